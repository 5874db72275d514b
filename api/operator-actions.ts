// Operator actions through the operator API: the request is recorded first (zp_request_operator_action:
// who, what, why, from where; audited), under an action id the operator may choose (a retry with it is
// the same action) or one made here; then its workflow `operator-<action id>` is started, and the answer
// waits a bounded time for its outcome. The workflow reads the request from the database, never from
// its input, so only what an authenticated operator asked for can run.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { v7 as uuidv7 } from 'uuid';
import { AppError, badInput, unauthenticated } from '../common/errors';
import { operatorActionWorkflowId, type OperatorActionKind } from '../common/operator-actions';
import { searchAttributes } from '../common/transactions';
import type { Queryable } from '../db/pool';
import { findTransaction } from '../db/transactions';
import type { OperatorContext } from './operator-api';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How often the answer looks whether the action finished while it waits. */
const outcomePollMs = 100;

export interface OperatorActionRow {
  id: string;
  kind: OperatorActionKind;
  transactionId: string;
  operator: string;
  reason: string;
  via: string;
  status: 'RUNNING' | 'COMPLETED' | 'REFUSED';
  result: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
  finishedAt: Date | null;
}

export async function findOperatorAction(db: Queryable, id: string): Promise<OperatorActionRow | null> {
  const { rows } = await db.query<OperatorActionRow>(
    `SELECT id, kind, transaction_id AS "transactionId", operator_name AS operator, reason, via, status, result_code AS result, details,
            created_at AS "createdAt", finished_at AS "finishedAt"
     FROM operator_action_requests WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function requestOperatorAction(
  context: OperatorContext,
  operatorName: string,
  kind: OperatorActionKind,
  args: { transactionId: string; reason: string; actionId?: string | null },
): Promise<OperatorActionRow> {
  const { deps } = context;
  const actionId = args.actionId ?? uuidv7();
  if (!uuidPattern.test(actionId)) throw badInput('actionId is not an id', 'actionId');
  const { rows } = await deps.pool.query<{ result: string }>(`SELECT result FROM zp_request_operator_action($1, $2, $3, $4, $5, 'operator-api', $6)`, [
    actionId.toLowerCase(),
    kind,
    args.transactionId,
    operatorName,
    args.reason,
    context.client.address,
  ]);
  const result = rows[0]!.result;
  if (result === 'unknown_operator') throw unauthenticated('This operator account is disabled');
  if (result === 'not_found') throw new AppError('NOT_FOUND', 'No payment has this id');
  if (result === 'conflict') throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This actionId was used for another action', { field: 'actionId' });
  const transaction = (await findTransaction(deps.pool, args.transactionId))!;
  try {
    await deps.temporal.workflow.start('operatorActionWorkflow', {
      workflowId: operatorActionWorkflowId(actionId.toLowerCase()),
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [{ actionId: actionId.toLowerCase() }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: [
        { key: searchAttributes.userId, value: transaction.userId },
        { key: searchAttributes.transactionId, value: transaction.id },
        { key: searchAttributes.kind, value: transaction.kind },
      ],
      staticSummary: `${kind} of ${transaction.kind} ${transaction.id} by operator ${operatorName}`,
    });
  } catch (error) {
    // Ran already (a retry of the same action): its outcome is in the database.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  const deadline = Date.now() + deps.config.MUTATION_WAIT_MS;
  for (;;) {
    const row = (await findOperatorAction(deps.pool, actionId.toLowerCase()))!;
    if (row.status !== 'RUNNING' || Date.now() >= deadline) return row;
    await new Promise((resolve) => setTimeout(resolve, outcomePollMs));
  }
}
