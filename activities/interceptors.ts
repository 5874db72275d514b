// Activity interceptor of the worker: each activity runs in its transaction's correlation (log lines and
// spans carry the id), and each final status a ledger step records is counted for Prometheus.
import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { inTransaction, transactionIdOfWorkflow } from '../common/correlation';
import { paymentOutcomes } from '../common/metrics';
import { isFinalStatus, transactionKinds, type TransactionKind, type TransactionStatus } from '../common/transactions';
import type { Queryable } from '../db/pool';

const kindByWorkflowType: Record<string, TransactionKind> = {
  transferWorkflow: 'TRANSFER',
  onRampWorkflow: 'ON_RAMP',
  offRampWorkflow: 'OFF_RAMP',
};

/** Steps that only one kind has (a reconciliation calls them too). */
const kindByActivityType: Record<string, TransactionKind> = {
  postTransfer: 'TRANSFER',
  creditOnRamp: 'ON_RAMP',
  holdWithdrawal: 'OFF_RAMP',
  settleWithdrawal: 'OFF_RAMP',
};

interface OutcomeLike {
  transactionId?: unknown;
  status?: unknown;
  failureCode?: unknown;
}

function transactionIdOf(input: ActivityExecuteInput, context: ActivityContext): string | undefined {
  const first = input.args[0] as { transactionId?: unknown } | undefined;
  if (typeof first?.transactionId === 'string') return first.transactionId;
  return transactionIdOfWorkflow(context.info.workflowExecution?.workflowId);
}

/** Counts a final outcome (COMPLETED, FAILED or EXPIRED) that an activity recorded or found. */
async function countOutcome(db: Queryable, context: ActivityContext, transactionId: string | undefined, result: unknown): Promise<void> {
  const outcome = result as OutcomeLike | null;
  if (typeof outcome?.status !== 'string' || !isFinalStatus(outcome.status as TransactionStatus)) return;
  const id = typeof outcome.transactionId === 'string' ? outcome.transactionId : transactionId;
  let kind: TransactionKind | undefined = kindByWorkflowType[context.info.workflowType ?? ''] ?? kindByActivityType[context.info.activityType];
  if (!kind && id) {
    const { rows } = await db.query<{ kind: TransactionKind }>(`SELECT kind FROM transactions WHERE id = $1`, [id]);
    kind = rows[0]?.kind;
  }
  if (!kind || !transactionKinds.includes(kind)) return;
  const code = typeof outcome.failureCode === 'string' ? outcome.failureCode : 'none';
  paymentOutcomes.inc({ kind, status: outcome.status, code });
}

export class ObservedActivityInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly context: ActivityContext,
    private readonly db: Queryable,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const transactionId = transactionIdOf(input, this.context);
    const run = async () => {
      const result = await next(input);
      // Counting must never fail the step whose money already moved.
      await countOutcome(this.db, this.context, transactionId, result).catch(() => {});
      return result;
    };
    return transactionId ? inTransaction(transactionId, run) : run();
  }
}
