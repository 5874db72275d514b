// Starts the workflow of a transaction. Safe to call any number of times: the workflow id derives from
// the transaction id, a running one is reused and a finished one is never started again.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { searchAttributes, workflowIdFor, workflowTypeByKind, type PaymentWorkflowInput } from './transactions';
import type { TransactionRow } from '../db/transactions';

export interface StartTarget {
  client: Client;
  taskQueue: string;
}

export async function ensurePaymentWorkflow(target: StartTarget, transaction: TransactionRow): Promise<void> {
  const input: PaymentWorkflowInput = { transactionId: transaction.id };
  const attributes = [
    { key: searchAttributes.userId, value: transaction.userId },
    { key: searchAttributes.transactionId, value: transaction.id },
    { key: searchAttributes.kind, value: transaction.kind },
  ];
  // A transfer finishes in its first workflow task, so its execution status says all; bank payments
  // wait, and keep ZenpayStatus current so operators can find what is stuck waiting for a bank.
  if (transaction.bank) {
    attributes.push({ key: searchAttributes.status, value: transaction.status }, { key: searchAttributes.bank, value: transaction.bank });
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
    });
  } catch (error) {
    // Closed already: the transaction has its outcome, and a second run must never happen.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    throw error;
  }
}
