// The operator API: a second GraphQL Yoga instance in the API process at /operator/graphql, with its own
// schema (operator-schema.graphql) and its own sessions (api/operators.ts). Operators review flagged
// payments (the decision is recorded in the database by zp_decide_review, then the payment's workflow is
// prompted), look users and security events up, and set verification tiers; each action is audited.
import { WorkflowNotFoundError } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSchema, createYoga, type YogaInitialContext } from 'graphql-yoga';
import type { IncomingMessage } from 'node:http';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { AppError, badInput, unauthenticated } from '../common/errors';
import type { VerificationTier } from '../common/limits';
import { ensurePaymentWorkflow, ensureReconciliation } from '../common/payment-workflows';
import { parsePhone } from '../common/phone';
import { workflowIdFor } from '../common/transactions';
import { findReview, listUserPayments, listWaitingReviews, userTier, type ReviewRow } from '../db/fraud';
import { listSecurityEvents, securityEventPageMax } from '../db/security-events';
import { findTransaction, type TransactionRow } from '../db/transactions';
import { bearerToken, findUserByPhone, findUsersByIds, type User } from './auth';
import { clientInfo, type ClientInfo } from './client-address';
import type { ApiDependencies } from './context';
import { findOperatorAction, requestOperatorAction, type OperatorActionRow } from './operator-actions';
import { recordOperatorAction, resolveOperatorSession, signInOperator, signOutOperator, type OperatorSession } from './operators';
import { useGraphQLMetrics } from './observability';
import { DateTimeScalar, MoneyScalar } from './scalars';
import { toGraphQLError } from './yoga';

export const operatorEndpoint = '/operator/graphql';
const operatorTypeDefs = readFileSync(path.join(__dirname, 'operator-schema.graphql'), 'utf8');
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const reasonLengthMax = 500;
const pageMax = 100;

export interface OperatorContext {
  deps: ApiDependencies;
  session: OperatorSession | null;
  client: ClientInfo;
}

function requireOperator(context: OperatorContext): OperatorSession {
  if (!context.session) throw unauthenticated('Sign in as an operator first: a valid operator token is required');
  return context.session;
}

const validUuid = (value: string, field: string): string => {
  if (!uuidPattern.test(value)) throw badInput(`${field} is not an id`, field);
  return value.toLowerCase();
};

function validateReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length === 0 || [...trimmed].length > reasonLengthMax) throw badInput(`reason is 1 to ${reasonLengthMax} characters`, 'reason');
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(trimmed)) throw badInput('reason cannot contain control characters', 'reason');
  return trimmed;
}

const page = (first: number, max: number): number => {
  if (!Number.isInteger(first) || first < 1 || first > max) throw badInput(`first must be 1 to ${max}`, 'first');
  return first;
};

const paymentView = (row: TransactionRow) => ({ ...row, bankAccountLast4: row.bankAccount?.slice(-4) ?? null });

async function userView(context: OperatorContext, user: User) {
  return { ...user, tier: await userTier(context.deps.pool, user.id) };
}

async function reviewView(context: OperatorContext, review: ReviewRow) {
  const [user] = await findUsersByIds(context.deps.pool, [review.transaction.userId]);
  return { ...review, payment: paymentView(review.transaction), user: await userView(context, user!) };
}

/** Tells the payment's workflow to look at the database; a workflow gone is replaced by what finishes the payment. */
async function promptWorkflow(context: OperatorContext, transactionId: string): Promise<void> {
  const transaction = (await findTransaction(context.deps.pool, transactionId))!;
  const target = { client: context.deps.temporal, taskQueue: context.deps.config.TEMPORAL_TASK_QUEUE };
  try {
    await context.deps.temporal.workflow.getHandle(workflowIdFor(transaction.kind, transaction.id)).signal('reviewDecided');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    if (transaction.status === 'PENDING') await ensurePaymentWorkflow(target, transaction);
    // A closed workflow of a payment approved since: the reconciliation finishes it.
    await ensureReconciliation(target, transaction, 'review decided while its workflow was closed').catch(() => {});
  }
}

async function decideReview(context: OperatorContext, args: { transactionId: string; decision: 'APPROVE' | 'REJECT'; reason: string }) {
  const session = requireOperator(context);
  const transactionId = validUuid(args.transactionId, 'transactionId');
  const reason = validateReason(args.reason);
  const { rows } = await context.deps.pool.query<{ result: string; outcome_status: string | null }>(
    `SELECT result, outcome_status FROM zp_decide_review($1, $2, $3, 'operator-api', $4, $5)`,
    [transactionId, args.decision, session.operator.name, reason, context.client.address],
  );
  const { result, outcome_status: status } = rows[0]!;
  if (result === 'unknown_operator') throw unauthenticated('This operator account is disabled');
  if (result === 'not_found') throw new AppError('NOT_FOUND', 'No payment in review has this id');
  if (result === 'not_in_review') throw new AppError('NOT_FOUND', `This payment is no longer in review (${status})`, { status });
  if (result === 'past_deadline') {
    // The database rejected it for want of a decision in time; its workflow learns so now, not at its timer.
    await promptWorkflow(context, transactionId);
    throw new AppError('REVIEW_DEADLINE_PASSED', `The review's deadline had passed: the payment was rejected (${status}), not decided`, { status });
  }
  await promptWorkflow(context, transactionId);
  return reviewView(context, (await findReview(context.deps.pool, transactionId))!);
}

type OperatorActionArgs = { transactionId: string; reason: string; actionId?: string | null };

/** Reverse, refund, retry or close: recorded and audited, then carried out by its workflow (api/operator-actions.ts). */
const operatorAction = (context: OperatorContext, kind: Parameters<typeof requestOperatorAction>[2], args: OperatorActionArgs) =>
  requestOperatorAction(context, requireOperator(context).operator.name, kind, {
    transactionId: validUuid(args.transactionId, 'transactionId'),
    reason: validateReason(args.reason),
    actionId: args.actionId ? validUuid(args.actionId, 'actionId') : null,
  });

/** Reads that reveal a user's data are audited too (who looked at whom, when). */
const audited = (context: OperatorContext, action: string, subject: string | null, details: Record<string, unknown> = {}) =>
  recordOperatorAction(context.deps.pool, {
    operatorName: requireOperator(context).operator.name, action, subject, via: 'operator-api', clientAddress: context.client.address, outcome: 'success', details,
  });

export const operatorResolvers = {
  Money: MoneyScalar,
  DateTime: DateTimeScalar,
  Query: {
    me: (_: unknown, __: unknown, context: OperatorContext) => requireOperator(context).operator,
    reviews: async (_: unknown, args: { first: number }, context: OperatorContext) => {
      requireOperator(context);
      const reviews = await listWaitingReviews(context.deps.pool, page(args.first, pageMax));
      return Promise.all(reviews.map((review) => reviewView(context, review)));
    },
    review: async (_: unknown, args: { transactionId: string }, context: OperatorContext) => {
      requireOperator(context);
      const found = await findReview(context.deps.pool, validUuid(args.transactionId, 'transactionId'));
      return found ? reviewView(context, found) : null;
    },
    user: async (_: unknown, args: { id?: string | null; phone?: string | null }, context: OperatorContext) => {
      requireOperator(context);
      if (Boolean(args.id) === Boolean(args.phone)) throw badInput('Give exactly one of id and phone', 'id');
      const user = args.id
        ? (await findUsersByIds(context.deps.pool, [validUuid(args.id, 'id')]))[0]
        : await findUserByPhone(context.deps.pool, parsePhone(args.phone!, 'phone'));
      await audited(context, 'view_user', user?.id ?? args.phone ?? args.id ?? null, { found: Boolean(user) });
      return user ? userView(context, { id: user.id, phone: user.phone, name: user.name, createdAt: user.createdAt }) : null;
    },
    securityEvents: async (
      _: unknown,
      args: { kindPrefix?: string | null; userId?: string | null; subject?: string | null; before?: string | null; first: number },
      context: OperatorContext,
    ) => {
      requireOperator(context);
      if (args.before && !/^[0-9]{1,19}$/.test(args.before)) throw badInput('before is an event id', 'before');
      const events = await listSecurityEvents(context.deps.pool, {
        kindPrefix: args.kindPrefix?.slice(0, 64) ?? null,
        userId: args.userId ? validUuid(args.userId, 'userId') : null,
        subject: args.subject?.slice(0, 255) ?? null,
        beforeId: args.before ? BigInt(args.before) : null,
        limit: page(args.first, securityEventPageMax),
      });
      await audited(context, 'view_security_events', args.userId ?? args.subject ?? null, { kindPrefix: args.kindPrefix ?? null, count: events.length });
      return events.map((event) => ({ ...event, id: String(event.id), details: JSON.stringify(event.details) }));
    },
    operatorAction: async (_: unknown, args: { id: string }, context: OperatorContext) => {
      requireOperator(context);
      return findOperatorAction(context.deps.pool, validUuid(args.id, 'id'));
    },
    operatorActions: async (_: unknown, args: { operator?: string | null; first: number }, context: OperatorContext) => {
      requireOperator(context);
      const { rows } = await context.deps.pool.query(
        `SELECT id::text, occurred_at AS "occurredAt", operator_name AS operator, action, subject, reason, via,
                client_address AS "clientAddress", outcome
         FROM operator_actions WHERE ($1::text IS NULL OR operator_name = $1) ORDER BY id DESC LIMIT $2`,
        [args.operator ?? null, page(args.first, securityEventPageMax)],
      );
      return rows;
    },
  },
  Mutation: {
    signIn: (_: unknown, args: { name: string; password: string }, context: OperatorContext) =>
      signInOperator({ pool: context.deps.pool, limits: context.deps.limits, sessionTtlSeconds: context.deps.config.OPERATOR_SESSION_TTL_SECONDS }, args, context.client),
    signOut: (_: unknown, __: unknown, context: OperatorContext) => signOutOperator(context.deps.pool, requireOperator(context), context.client),
    decideReview: (_: unknown, args: { transactionId: string; decision: 'APPROVE' | 'REJECT'; reason: string }, context: OperatorContext) =>
      decideReview(context, args),
    reverseTransfer: (_: unknown, args: OperatorActionArgs, context: OperatorContext) => operatorAction(context, 'REVERSE_TRANSFER', args),
    refundOnRamp: (_: unknown, args: OperatorActionArgs, context: OperatorContext) => operatorAction(context, 'REFUND_ON_RAMP', args),
    retryPayment: (_: unknown, args: OperatorActionArgs, context: OperatorContext) => operatorAction(context, 'RETRY_PAYMENT', args),
    closePayment: (_: unknown, args: OperatorActionArgs, context: OperatorContext) => operatorAction(context, 'CLOSE_PAYMENT', args),
    setUserTier: async (_: unknown, args: { userId: string; tier: VerificationTier; reason: string }, context: OperatorContext) => {
      const session = requireOperator(context);
      const userId = validUuid(args.userId, 'userId');
      const { rows } = await context.deps.pool.query<{ result: string }>(`SELECT zp_set_user_tier($1, $2, $3, $4, $5) AS result`, [
        userId,
        args.tier,
        session.operator.name,
        validateReason(args.reason),
        context.client.address,
      ]);
      if (rows[0]!.result === 'unknown_operator') throw unauthenticated('This operator account is disabled');
      if (rows[0]!.result === 'not_found') throw new AppError('NOT_FOUND', 'No user has this id');
      const [user] = await findUsersByIds(context.deps.pool, [userId]);
      return userView(context, user!);
    },
  },
  OperatorActionRun: {
    details: (row: OperatorActionRow) => JSON.stringify(row.details),
    payment: async (row: OperatorActionRow, _: unknown, context: OperatorContext) => paymentView((await findTransaction(context.deps.pool, row.transactionId))!),
  },
  OperatorUser: {
    payments: async (user: User, args: { first: number }, context: OperatorContext) =>
      (await listUserPayments(context.deps.pool, user.id, page(args.first, pageMax))).map(paymentView),
  },
};

export function createOperatorGraphQLServer(deps: ApiDependencies) {
  return createYoga<{ req?: IncomingMessage }, OperatorContext>({
    schema: createSchema<YogaInitialContext & OperatorContext>({ typeDefs: operatorTypeDefs, resolvers: operatorResolvers }),
    graphqlEndpoint: operatorEndpoint,
    landingPage: false,
    graphiql: false,
    batching: false,
    logging: false,
    maskedErrors: { maskError: (error) => toGraphQLError(error, deps) },
    plugins: [
      maxDepthPlugin({ n: 8, exposeLimits: true }),
      maxAliasesPlugin({ n: 15, exposeLimits: true }),
      maxTokensPlugin({ n: 1_000, exposeLimits: true }),
      ...(deps.config.GRAPHQL_INTROSPECTION ? [] : [useDisableIntrospection()]),
      // Counted beside the public endpoint's operations, with endpoint="operator".
      useGraphQLMetrics('operator'),
    ],
    context: async (initial: YogaInitialContext & { req?: IncomingMessage }) => {
      const token = bearerToken(initial.request.headers.get('authorization'));
      return { deps, session: token ? await resolveOperatorSession(deps.pool, token) : null, client: clientInfo(initial.req, deps.config.TRUSTED_PROXY_HOPS) };
    },
  });
}
