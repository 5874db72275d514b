// GraphQL Yoga: the contract's schema with our resolvers, expected errors shown with their code and
// everything else masked as INTERNAL_SERVER_ERROR (logged with its details, never returned).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { createSchema, createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { AppError, errorCodes } from '../common/errors';
import { bearerToken } from './auth';
import { buildContext, type ApiContext, type ApiDependencies } from './context';
import { resolvers } from './resolvers';

export const typeDefs = readFileSync(path.join(__dirname, 'schema.graphql'), 'utf8');

export function toGraphQLError(error: unknown, deps: ApiDependencies): GraphQLError {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: original.code, ...original.details },
    });
  }
  if (error instanceof GraphQLError && (error.extensions?.code || !error.originalError)) {
    // Parse, validation and input-coercion errors: the request itself is wrong.
    if (!error.extensions?.code) return new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'BAD_USER_INPUT' } });
    return error;
  }
  deps.log.error({ err: original }, 'unexpected error in a GraphQL operation');
  return new GraphQLError('Unexpected error', {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

const contractCodes = new Set<string>([...errorCodes, 'INTERNAL_SERVER_ERROR']);

/** Keeps every error's code inside the contract's list; Yoga's own codes become the reason. */
function withContractCode(error: GraphQLError): GraphQLError {
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
    plugins: [useContractErrorCodes],
    context: async (initial: YogaInitialContext & ServerContext) => {
      const token =
        initial.connectionToken !== undefined
          ? initial.connectionToken
          : bearerToken(initial.request.headers.get('authorization'));
      return buildContext(deps, token);
    },
  });
}
export type GraphQLServer = ReturnType<typeof createGraphQLServer>;
