// Starts the workflow of a transaction. Safe to call any number of times: the workflow id derives from
// the transaction id, a running one is reused and a finished one is never started again.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { BankOutcomeSignal } from './bank';
import { reconcileWorkflowId, searchAttributes, workflowIdFor, workflowTypeByKind, type PaymentWorkflowInput } from './transactions';
import type { TransactionRow } from '../db/transactions';

export interface StartTarget {
  client: Client;
  taskQueue: string;
  /** Ask Temporal for eager start (a worker runs in this process on this task queue: API_EAGER_START). */
  eager?: boolean;
}

export async function ensurePaymentWorkflow(target: StartTarget, transaction: TransactionRow): Promise<void> {
  const input: PaymentWorkflowInput = {
    transactionId: transaction.id,
    ...(transaction.status === 'AWAITING_CONFIRMATION' ? { awaitConfirmation: true } : {}),
    // A payment its user still has to confirm may go to review next (its workflow asks the database).
    ...(transaction.status === 'IN_REVIEW' || transaction.status === 'AWAITING_CONFIRMATION' ? { awaitReview: true } : {}),
  };
  const attributes = [
    { key: searchAttributes.userId, value: transaction.userId },
    { key: searchAttributes.transactionId, value: transaction.id },
    { key: searchAttributes.kind, value: transaction.kind },
  ];
  // A transfer finishes in its first workflow task, so its execution status says all; bank payments
  // wait, and keep ZenpayStatus current so operators can find what is stuck waiting for a bank.
  if (transaction.bank) {
    attributes.push({ key: searchAttributes.status, value: transaction.status }, { key: searchAttributes.bank, value: transaction.bank });
  } else if (transaction.status === 'IN_REVIEW') {
    // Operators find what waits for them: ZenpayStatus = "IN_REVIEW".
    attributes.push({ key: searchAttributes.status, value: transaction.status });
  }
  try {
    await target.client.workflow.start(workflowTypeByKind[transaction.kind], {
      workflowId: workflowIdFor(transaction.kind, transaction.id),
      taskQueue: target.taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: attributes,
      staticSummary: `${transaction.kind} ${transaction.amount} paise, transaction ${transaction.id}`,
      // A transfer finishes in its first task: run here, it never waits for a poller.
      ...(target.eager && transaction.kind === 'TRANSFER' ? { requestEagerStart: true } : {}),
    });
  } catch (error) {
    // Closed already: the transaction has its outcome, and a second run must never happen.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    throw error;
  }
}

/**
 * Makes sure the reconciliation of a transaction runs (see workflows/reconcile.ts): a running one is
 * reused (and told of the claim), a finished one may run again, since a later bank word needs a new look.
 */
export async function ensureReconciliation(
  target: StartTarget,
  transaction: Pick<TransactionRow, 'id' | 'userId' | 'kind'>,
  reason: string,
  claim?: BankOutcomeSignal,
): Promise<void> {
  const options = {
    workflowId: reconcileWorkflowId(transaction.id),
    taskQueue: target.taskQueue,
    args: [{ transactionId: transaction.id, reason }] as [{ transactionId: string; reason: string }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: searchAttributes.userId, value: transaction.userId },
      { key: searchAttributes.transactionId, value: transaction.id },
      { key: searchAttributes.kind, value: transaction.kind },
    ],
    staticSummary: `reconciliation of ${transaction.kind} ${transaction.id}: ${reason}`.slice(0, 200),
  };
  if (claim) {
    await target.client.workflow.signalWithStart('reconcileWorkflow', { ...options, signal: 'bankOutcome', signalArgs: [claim] });
    return;
  }
  try {
    await target.client.workflow.start('reconcileWorkflow', { ...options, workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    throw error;
  }
}
