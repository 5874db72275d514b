// Thin resolvers of scheduled payments (schema: "Extension" types ScheduledPayment and friends): check the
// session, call api/scheduled-payments.ts, shape the row. Merged into api/resolvers.ts.
import { requireSession, type Session } from './auth';
import type { ApiContext } from './context';
import type { PaymentDependencies } from './payments';
import {
  changeScheduledPayment,
  confirmScheduledPayment,
  listOwnScheduledPayments,
  nextRunTimes,
  ownScheduledPayment,
  schedulePayment,
  type ScheduledPaymentDependencies,
  type SchedulePaymentInput,
} from './scheduled-payments';
import { AppError } from '../common/errors';
import { latestRuns, type ScheduledPaymentRow } from '../db/scheduled-payments';
import { findTransactions } from '../db/transactions';

const runsPageMax = 50;

function dependencies(context: ApiContext, payments: (context: ApiContext) => PaymentDependencies): ScheduledPaymentDependencies {
  return { ...payments(context), nodeEnv: context.deps.config.NODE_ENV };
}

export const scheduledPaymentQueries = {
  scheduledPayments: async (_: unknown, args: { first: number }, context: ApiContext) =>
    listOwnScheduledPayments(context.deps, requireSession(context.session).user, args.first),
  scheduledPayment: async (_: unknown, args: { id: string }, context: ApiContext) => {
    const viewer = requireSession(context.session).user;
    return ownScheduledPayment(context.deps, viewer, args.id).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return null;
      throw error;
    });
  },
};

/** Every mutation counts against the user's mutation limit (limitMutation), as payments do. */
export function scheduledPaymentMutations(
  limitMutation: (context: ApiContext) => Promise<Session>,
  payments: (context: ApiContext) => PaymentDependencies,
) {
  const change = (action: 'pause' | 'resume' | 'delete') => async (_: unknown, args: { id: string }, context: ApiContext) => {
    const session = await limitMutation(context);
    return changeScheduledPayment(dependencies(context, payments), session.user, args.id, action);
  };
  return {
    schedulePayment: async (_: unknown, args: { input: SchedulePaymentInput }, context: ApiContext) => {
      const session = await limitMutation(context);
      return schedulePayment(dependencies(context, payments), session.user, args.input);
    },
    confirmScheduledPayment: async (_: unknown, args: { id: string; code: string }, context: ApiContext) => {
      const session = await limitMutation(context);
      return confirmScheduledPayment(dependencies(context, payments), session.user, args, context.client.address);
    },
    pauseScheduledPayment: change('pause'),
    resumeScheduledPayment: change('resume'),
    deleteScheduledPayment: async (...call: Parameters<ReturnType<typeof change>>) => (await change('delete')(...call)).status === 'DELETED',
  };
}

export const scheduledPaymentResolvers = {
  ScheduledPayment: {
    currency: () => 'INR',
    toPhone: async (row: ScheduledPaymentRow, _: unknown, context: ApiContext) => (await context.users.load(row.payeeUserId))?.phone ?? '',
    cadence: (row: ScheduledPaymentRow) => ({
      kind: row.cadence,
      at: row.runAt,
      dayOfMonth: row.dayOfMonth,
      dayOfWeek: row.dayOfWeek,
      timeOfDay: row.timeOfDay,
      everySeconds: row.everySeconds,
      timeZone: row.timeZone,
    }),
    nextRunTimes: (row: ScheduledPaymentRow, args: { first: number }, context: ApiContext) => nextRunTimes(context.deps, row, args.first),
    runs: async (row: ScheduledPaymentRow, args: { first: number }, context: ApiContext) => {
      const first = Math.min(Math.max(Number.isInteger(args.first) ? args.first : 10, 1), runsPageMax);
      const runs = (await latestRuns(context.deps.pool, [row.id], first)).get(row.id) ?? [];
      const transactions = await findTransactions(context.deps.pool, runs.flatMap((run) => (run.transactionId ? [run.transactionId] : [])));
      return runs.map((run) => ({ ...run, transaction: run.transactionId ? transactions.get(run.transactionId) ?? null : null }));
    },
    confirmation: (row: ScheduledPaymentRow) =>
      row.status === 'AWAITING_CONFIRMATION' && row.confirmMethod && row.confirmExpiresAt
        ? { method: row.confirmMethod, expiresAt: row.confirmExpiresAt, attemptsLeft: Math.max((row.confirmAttemptsMax ?? 0) - row.confirmAttempts, 0) }
        : null,
  },
};
