// A P2P transfer: one ledger step that moves the money or records why not (e.g. INSUFFICIENT_FUNDS).
// The step is a local activity: it is short, idempotent, and saves a round trip through the server.
// The workflow finishes in its first task, so it records nothing else: its outcome is its result. A
// transfer that needs its user's confirmation (step-up) waits for it first, and one flagged by the fraud
// rules waits for an operator's review (its amount held), both behind input flags that old runs lack.
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PaymentOutcome, PaymentWorkflowInput } from '../common/transactions';
import { awaitConfirmation } from './confirmation';
import { awaitReview } from './review';
import { ledgerRetry } from './retry-policies';

const { postTransfer } = proxyLocalActivities<Activities>({ startToCloseTimeout: '15s', retry: ledgerRetry });
export const postTransferActivity = postTransfer;

export async function transferWorkflow(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  if (input.awaitConfirmation) {
    const ended = await awaitConfirmation(input.transactionId);
    if (ended) return ended;
  }
  if (input.awaitReview) {
    const ended = await awaitReview(input.transactionId);
    if (ended) return ended;
  }
  return postTransfer({ transactionId: input.transactionId });
}
