// Thin resolvers: check the session, turn GraphQL arguments into domain calls, shape the answers.
// A transaction is rendered from the viewer's side (direction, counterparty).
import { badInput } from '../common/errors';
import type { TransactionKind, TransactionStatus } from '../common/transactions';
import { userWallet } from '../db/ledger';
import { findTransaction, listTransactionsForViewer, type TransactionRow } from '../db/transactions';
import { parsePhone } from '../common/phone';
import { recordSecurityEvent } from '../db/security-events';
import { findUserByPhone, requireSession, revokeSession, signIn, signUp, type SignUpInput } from './auth';
import type { ApiContext } from './context';
import { requestPhoneVerification } from './phone-verification';
import { changePassword, listSessions, revokeSessionById, signOutEverywhere } from './sessions';
import { addMoney, confirmTransaction, sendMoney, withdraw, type AddMoneyInput, type SendMoneyInput, type WithdrawInput } from './payments';
import { DateTimeScalar, MoneyScalar } from './scalars';
import { confirmTwoFactorEnrollment, disableTwoFactor, isTwoFactorEnabled, startTwoFactorEnrollment, verifySecondFactor } from './two-factor';
import { findChallenge, type SecondFactor } from './step-up';
import { fraudPolicyOf } from './fraud';
import { transactionAftermathResolvers } from './transaction-aftermath';
import { viewerAnalytics, viewerStatement, type Granularity, type MoneyFlow } from './analytics';
import { scheduledPaymentResolvers, scheduledPaymentMutations, scheduledPaymentQueries } from './scheduled-payment-resolvers';
import {
  decodeEventCursor,
  encodeEventCursor,
  eventStream,
  transactionsAtEvents,
  walletAtEvent,
} from './subscriptions';

const pageSizeMax = 100;

const encodeListCursor = (seq: bigint): string => Buffer.from(`t:${seq}`).toString('base64url');
function decodeListCursor(cursor: string): bigint {
  const decoded = /^t:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!decoded || cursor.length > 40) throw badInput('after is not a cursor from this API', 'after');
  return BigInt(decoded[1]!);
}

/** The recipient of a TRANSFER sees it only once money moved, never the sender's failed or pending tries. */
const isViewerTransaction = (transaction: TransactionRow, viewerId: string): boolean =>
  transaction.userId === viewerId || (transaction.counterpartyUserId === viewerId && transaction.status === 'COMPLETED');

/** A name as UPI apps show a payee's: each word's first character, the rest masked. */
export function maskName(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => {
      const characters = [...word];
      return characters[0]! + '*'.repeat(Math.min(characters.length - 1, 8));
    })
    .join(' ');
}

/** Every session-bound mutation counts against the user's limit, each alias of a request too. */
async function limitMutation(context: ApiContext): Promise<ReturnType<typeof requireSession>> {
  const session = requireSession(context.session);
  await context.deps.limits.consume('mutationsByUser', session.user.id, { userId: session.user.id, clientAddress: context.client.address });
  return session;
}

function viewerId(context: ApiContext): string {
  return requireSession(context.session).user.id;
}

function walletView(wallet: { available: bigint; held: bigint; updatedAt: Date }) {
  return { currency: 'INR', available: wallet.available, held: wallet.held, updatedAt: wallet.updatedAt };
}

/** Ends a subscription when its socket closes or its session is signed out or expires. */
function subscriptionSignal(context: ApiContext & { signal?: AbortSignal }): AbortSignal {
  return context.signal ?? new AbortController().signal;
}

export const resolvers = {
  Money: MoneyScalar,
  DateTime: DateTimeScalar,

  Query: {
    viewer: async (_: unknown, __: unknown, context: ApiContext) => {
      if (!context.session) return null;
      return { user: context.session.user };
    },
    transaction: async (_: unknown, args: { id: string }, context: ApiContext) => {
      const viewer = viewerId(context);
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(args.id)) return null;
      const transaction = await findTransaction(context.deps.pool, args.id);
      // Someone else's transaction is indistinguishable from a missing one.
      return transaction && isViewerTransaction(transaction, viewer) ? transaction : null;
    },
    transactions: async (
      _: unknown,
      args: { first: number; after?: string | null; filter?: { kind?: TransactionKind | null; status?: TransactionStatus | null } | null },
      context: ApiContext,
    ) => {
      const viewer = viewerId(context);
      if (!Number.isInteger(args.first) || args.first < 1 || args.first > pageSizeMax) {
        throw badInput(`first must be 1 to ${pageSizeMax}`, 'first');
      }
      const page = await listTransactionsForViewer(context.deps.pool, {
        viewerId: viewer,
        first: args.first,
        afterSeq: args.after ? decodeListCursor(args.after) : null,
        kind: args.filter?.kind ?? null,
        status: args.filter?.status ?? null,
      });
      const edges = page.transactions.map((node) => ({ cursor: encodeListCursor(node.seq), node }));
      return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    sessions: async (_: unknown, __: unknown, context: ApiContext) => listSessions(context.deps.pool, requireSession(context.session)),
    payee: async (_: unknown, args: { phone: string }, context: ApiContext) => {
      const session = requireSession(context.session);
      const phone = parsePhone(args.phone);
      await context.deps.limits.consume('payeeLookupsByUser', session.user.id, { userId: session.user.id, clientAddress: context.client.address });
      const payee = await findUserByPhone(context.deps.pool, phone);
      return payee ? { phone, maskedName: maskName(payee.name) } : null;
    },
    analytics: async (_: unknown, args: { from: Date; to: Date; granularity: Granularity; timeZone: string }, context: ApiContext) => {
      const found = await viewerAnalytics(context.deps.pool, viewerId(context), args);
      const flow = ({ moneyIn, moneyOut, count }: MoneyFlow) => ({ moneyIn, moneyOut, count });
      return {
        ...found,
        series: found.series.map((bucket) => ({ start: bucket.start, flow: flow(bucket) })),
        byKind: found.byKind.map((row) => ({ kind: row.kind, flow: flow(row) })),
        byCounterparty: found.byCounterparty.map((row) => ({ counterparty: row.counterparty, flow: flow(row) })),
      };
    },
    statement: async (_: unknown, args: { month: string; timeZone: string }, context: ApiContext) =>
      viewerStatement(context.deps.pool, viewerId(context), args.month, args.timeZone),
    ...scheduledPaymentQueries,
  },

  Mutation: {
    requestPhoneVerification: (_: unknown, args: { input: { phone: string } }, context: ApiContext) =>
      requestPhoneVerification(context.deps, args.input, { clientAddress: context.client.address }),
    signUp: (_: unknown, args: { input: SignUpInput }, context: ApiContext) => signUp(context.deps, args.input, context.client),
    signIn: (_: unknown, args: { input: { phone: string; password: string } }, context: ApiContext) =>
      signIn(context.deps, args.input, context.client),
    signOut: async (_: unknown, __: unknown, context: ApiContext) => {
      const session = await limitMutation(context);
      const revoked = await revokeSession(context.deps.pool, session.tokenHash);
      await recordSecurityEvent(context.deps.pool, {
        kind: 'auth.sign_out', outcome: 'success', userId: session.user.id, actor: 'user', clientAddress: context.client.address, subject: session.id,
      });
      return revoked;
    },
    revokeSession: async (_: unknown, args: { id: string }, context: ApiContext) =>
      revokeSessionById(context.deps, await limitMutation(context), args.id, context.client),
    signOutEverywhere: async (_: unknown, __: unknown, context: ApiContext) =>
      signOutEverywhere(context.deps, await limitMutation(context), context.client),
    changePassword: async (_: unknown, args: { input: { currentPassword: string; newPassword: string } }, context: ApiContext) =>
      changePassword(context.deps, await limitMutation(context), args.input, context.client),
    startTwoFactorEnrollment: async (_: unknown, __: unknown, context: ApiContext) =>
      startTwoFactorEnrollment(context.deps, await limitMutation(context), context.client),
    confirmTwoFactorEnrollment: async (_: unknown, args: { code: string }, context: ApiContext) =>
      confirmTwoFactorEnrollment(context.deps, await limitMutation(context), args.code, context.client),
    disableTwoFactor: async (_: unknown, args: { code: string }, context: ApiContext) =>
      disableTwoFactor(context.deps, await limitMutation(context), args.code, context.client),
    sendMoney: async (_: unknown, args: { input: SendMoneyInput }, context: ApiContext) => {
      const session = await limitMutation(context);
      return sendMoney(paymentDependencies(context), session.user, args.input);
    },
    addMoney: async (_: unknown, args: { input: AddMoneyInput }, context: ApiContext) => {
      const session = await limitMutation(context);
      return addMoney(paymentDependencies(context), session.user, args.input);
    },
    withdraw: async (_: unknown, args: { input: WithdrawInput }, context: ApiContext) => {
      const session = await limitMutation(context);
      return withdraw(paymentDependencies(context), session.user, args.input);
    },
    confirmTransaction: async (_: unknown, args: { id: string; code: string }, context: ApiContext) => {
      const session = await limitMutation(context);
      return confirmTransaction(paymentDependencies(context), session.user, args, context.client.address);
    },
    ...scheduledPaymentMutations(limitMutation, paymentDependencies),
  },

  Subscription: {
    transactionUpdated: {
      subscribe: async function* (_: unknown, args: { id?: string | null; after?: string | null }, context: ApiContext) {
        const viewer = viewerId(context);
        const afterSeq = args.after ? decodeEventCursor(args.after) : null;
        const stream = eventStream({
          db: context.deps.pool,
          hub: context.deps.hub,
          userId: viewer,
          kind: 'transaction',
          afterSeq,
          signal: subscriptionSignal(context),
        });
        for await (const page of stream) {
          const events = args.id ? page.filter((event) => event.transactionId === args.id) : page;
          const transactions = await transactionsAtEvents(context.deps.pool, events);
          for (const [index, event] of events.entries()) {
            // Events written before the outbox itself filtered them: a recipient sees only money moved.
            if (!isViewerTransaction(transactions[index]!, viewer)) continue;
            yield { transactionUpdated: { eventCursor: encodeEventCursor(event.seq), transaction: transactions[index], occurredAt: event.createdAt } };
          }
        }
      },
    },
    walletUpdated: {
      subscribe: async function* (_: unknown, __: unknown, context: ApiContext) {
        const viewer = viewerId(context);
        const stream = eventStream({
          db: context.deps.pool,
          hub: context.deps.hub,
          userId: viewer,
          kind: 'wallet',
          afterSeq: null,
          signal: subscriptionSignal(context),
        });
        for await (const page of stream) {
          for (const event of page) yield { walletUpdated: walletView(walletAtEvent(event)) };
        }
      },
    },
  },

  Viewer: {
    wallet: async (_viewer: unknown, __: unknown, context: ApiContext) =>
      walletView(await userWallet(context.deps.pool, viewerId(context))),
    twoFactorEnabled: (_viewer: unknown, __: unknown, context: ApiContext) => isTwoFactorEnabled(context.deps.pool, viewerId(context)),
  },

  ...scheduledPaymentResolvers,

  Transaction: {
    direction: (transaction: TransactionRow, _: unknown, context: ApiContext) => {
      if (transaction.kind === 'ON_RAMP') return 'CREDIT';
      if (transaction.kind === 'OFF_RAMP') return 'DEBIT';
      return transaction.userId === context.session?.user.id ? 'DEBIT' : 'CREDIT';
    },
    counterparty: async (transaction: TransactionRow, _: unknown, context: ApiContext) => {
      if (transaction.kind !== 'TRANSFER') return transaction.bank;
      const otherId = transaction.userId === context.session?.user.id ? transaction.counterpartyUserId! : transaction.userId;
      const other = await context.users.load(otherId);
      if (!other) return null;
      // A payment that did not move money must not tell whose the phone is (payee is the explicit,
      // limited way to ask): the sender sees the recipient's name only once it COMPLETED.
      return transaction.status === 'COMPLETED' ? `${other.name} (${other.phone})` : other.phone;
    },
    confirmation: async (transaction: TransactionRow, _: unknown, context: ApiContext) =>
      transaction.status === 'AWAITING_CONFIRMATION' && transaction.userId === context.session?.user.id
        ? findChallenge(context.deps.pool, transaction.id)
        : null,
    bankRedirectUrl: (transaction: TransactionRow) =>
      transaction.kind === 'ON_RAMP' && transaction.status === 'AWAITING_BANK' ? transaction.bankRedirectUrl : null,
    ...transactionAftermathResolvers,
  },
};

function paymentDependencies(context: ApiContext) {
  const { pool, temporal, hub, config, sms } = context.deps;
  return {
    pool,
    temporal,
    hub,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    eagerStart: config.API_EAGER_START,
    mutationWaitMs: config.MUTATION_WAIT_MS,
    supportedBanks: config.SUPPORTED_BANKS,
    transferExecution: config.TRANSFER_EXECUTION,
    confirmations: {
      pool,
      sms,
      codeKey: config.PHONE_CODE_SECRET,
      stepUp: {
        amountOverMinor: config.STEP_UP_AMOUNT_OVER,
        newPayee: config.STEP_UP_NEW_PAYEE,
        newBankAccount: config.STEP_UP_NEW_BANK_ACCOUNT,
        withinSeconds: config.PAYMENT_CONFIRMATION_TTL_SECONDS,
        attemptsMax: config.PAYMENT_CONFIRMATION_ATTEMPTS_MAX,
      },
      secondFactor: secondFactorOf(context),
    },
    fraud: fraudPolicyOf(config),
    origin: { sessionTokenHash: context.session?.tokenHash ?? null, clientAddress: context.client.address },
  };
}

/**
 * The viewer's second factor for payment step-up: their TOTP authenticator once enrolled. Every check
 * counts against the per-user second-factor limit (a right code gives its point back), so many payments
 * cannot be used to guess many codes.
 */
function secondFactorOf(context: ApiContext): SecondFactor {
  const { pool, config, limits } = context.deps;
  return {
    isEnabled: (userId) => isTwoFactorEnabled(pool, userId),
    async verify(userId, code, purpose) {
      await limits.consume('secondFactorByUser', userId, { userId, clientAddress: context.client.address });
      const verdict = await verifySecondFactor(pool, config, userId, code, purpose, { clientAddress: context.client.address });
      if (verdict === 'ok') await limits.refund('secondFactorByUser', userId);
      return verdict;
    },
  };
}
