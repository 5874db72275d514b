// GraphQL Yoga: the contract's schema with our resolvers, expected errors shown with their code and
// everything else masked as INTERNAL_SERVER_ERROR (logged with its details, never returned).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createSchema, createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { AppError, errorCodes } from '../common/errors';
import type { IncomingMessage } from 'node:http';
import { bearerToken } from './auth';
import { clientInfo, type ClientInfo } from './client-address';
import { buildContext, type ApiContext, type ApiDependencies } from './context';
import { observabilityPlugins } from './observability';
import { resolvers } from './resolvers';

export const typeDefs = readFileSync(path.join(__dirname, 'schema.graphql'), 'utf8');

export const operationDepthMax = 8;
export const operationAliasesMax = 15;
export const operationTokensMax = 1_000;
export const operationDirectivesMax = 10;
export const operationCostMax = 5_000;

export function toGraphQLError(error: unknown, deps: ApiDependencies): GraphQLError {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: original.code, ...original.details },
    });
  }
  if (error instanceof GraphQLError) {
    if (error.extensions?.code) return error;
    // No path: the request itself is wrong (parse, validation, variable coercion), not a resolver.
    if (!error.path) return new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'BAD_USER_INPUT' } });
  }
  deps.log.error({ err: original }, 'unexpected error in a GraphQL operation');
  return new GraphQLError('Unexpected error', {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

const contractCodes = new Set<string>([...errorCodes, 'INTERNAL_SERVER_ERROR']);

/** Keeps every error's code inside the contract's list; Yoga's own codes become the reason. */
export function withContractCode(error: GraphQLError): GraphQLError {
  const code = error.extensions?.code;
  if (typeof code === 'string' && contractCodes.has(code)) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    path: error.path,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT', ...(code ? { reason: code } : {}) },
  });
}

/** Parse and validation errors never pass through maskError: give them codes here. */
const useContractErrorCodes: Plugin = {
  onResultProcess({ result, setResult }) {
    if (Array.isArray(result) || !result || Symbol.asyncIterator in result) return;
    const errors = (result as ExecutionResult).errors;
    if (!errors?.length) return;
    setResult({ ...(result as ExecutionResult), errors: errors.map((error) => withContractCode(error as GraphQLError)) });
  },
};

/** What the WebSocket server hands in: the token from connectionParams, checked once at connect. */
export interface ServerContext {
  connectionToken?: string | null;
  signal?: AbortSignal;
  /** The WebSocket's client, taken from its upgrade request. */
  connectionClient?: ClientInfo;
  /** Express's request, for GraphQL over HTTP. */
  req?: IncomingMessage;
}

export function createGraphQLServer(deps: ApiDependencies) {
  return createYoga<ServerContext, ApiContext>({
    schema: createSchema<ServerContext & YogaInitialContext & ApiContext>({ typeDefs, resolvers }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: deps.config.GRAPHQL_INTROSPECTION ? { subscriptionsProtocol: 'WS' } : false,
    batching: false,
    logging: false,
    maskedErrors: { maskError: (error) => toGraphQLError(error, deps) },
    plugins: [
      // Bounds on what one operation may ask for: depth, aliases, tokens, directives, total cost.
      maxDepthPlugin({ n: operationDepthMax, exposeLimits: true }),
      maxAliasesPlugin({ n: operationAliasesMax, exposeLimits: true }),
      maxTokensPlugin({ n: operationTokensMax, exposeLimits: true }),
      maxDirectivesPlugin({ n: operationDirectivesMax, exposeLimits: true }),
      costLimitPlugin({ maxCost: operationCostMax, exposeLimits: true }),
      ...(deps.config.GRAPHQL_INTROSPECTION ? [] : [useDisableIntrospection(), blockFieldSuggestionsPlugin()]),
      useContractErrorCodes,
      // Metrics by operation, the operation's correlation (transaction id in logs and spans), its span.
      ...observabilityPlugins(),
    ],
    context: async (initial: YogaInitialContext & ServerContext) => {
      const token =
        initial.connectionToken !== undefined
          ? initial.connectionToken
          : bearerToken(initial.request.headers.get('authorization'));
      const client = initial.connectionClient ?? clientInfo(initial.req, deps.config.TRUSTED_PROXY_HOPS);
      return buildContext(deps, token, client);
    },
  });
}
export type GraphQLServer = ReturnType<typeof createGraphQLServer>;
