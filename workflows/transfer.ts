// A P2P transfer: one ledger step that moves the money or records why not (e.g. INSUFFICIENT_FUNDS).
// The step is a local activity: it is short, idempotent, and saves a round trip through the server.
import { proxyLocalActivities, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ledgerRetry } from './retry-policies';
import { searchAttributes, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';

const { postTransfer } = proxyLocalActivities<Activities>({ startToCloseTimeout: '15s', retry: ledgerRetry });

export async function transferWorkflow(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  setCurrentDetails(`Posting ledger transfer for transaction ${input.transactionId}`);
  const outcome = await postTransfer(input);
  upsertSearchAttributes([{ key: searchAttributes.status, value: outcome.status }]);
  setCurrentDetails(`${outcome.status}${outcome.failureCode ? ` (${outcome.failureCode})` : ''}`);
  return outcome;
}
