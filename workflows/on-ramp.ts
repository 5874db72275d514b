// An on-ramp (addMoney): create the payment at the bank, wait for the user's approval (the bank's
// webhook), credit the wallet once. No webhook in time: ask the bank before deciding, so a lost
// webhook never loses money; a payment still pending then ends EXPIRED.
import { proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureCodes } from '../common/errors';
import { searchAttributes, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import { acceptBankOutcomes, progressQuery, waitForOutcome, type PaymentProgress } from './bank-outcome';
import { ledgerRetry, bankRetry } from './retry-policies';

const ledger = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: ledgerRetry });
const bank = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: bankRetry });

export async function onRampWorkflow(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  const progress: PaymentProgress = { stage: 'creating payment at the bank', bank: null, bankObjectId: null, reference: input.transactionId, deadlineAt: null, outcome: null };
  setHandler(progressQuery, () => progress);
  let amount: string | null = null;
  const readOutcome = acceptBankOutcomes({ reference: input.transactionId, amount: () => amount, bankObjectId: () => progress.bankObjectId });

  const payment = await bank.startOnRamp(input);
  if (payment.outcome) return finish(progress, payment.outcome);
  amount = payment.amount;
  Object.assign(progress, { stage: 'waiting for the bank', bank: payment.bank, bankObjectId: payment.bankObjectId, deadlineAt: payment.deadlineAt });
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'AWAITING_BANK' }]);
  setCurrentDetails(`Waiting for ${payment.bank} to approve payment ${payment.bankObjectId} (reference ${input.transactionId}) until ${payment.deadlineAt}`);

  let decision = (await waitForOutcome(readOutcome, payment.decisionTimeoutMs)) ? readOutcome()!.status : undefined;
  if (!decision) {
    progress.stage = 'no webhook in time: asking the bank';
    const status = await bank.bankStatus({ kind: 'payment', bankObjectId: payment.bankObjectId });
    // A webhook may have come while we asked; the bank's first final word is the same either way.
    decision = readOutcome()?.status ?? (status === 'pending' ? undefined : status);
  }
  if (decision === 'succeeded') return finish(progress, await ledger.creditOnRamp(input));
  if (decision === 'failed') {
    return finish(progress, await ledger.endTransaction({ ...input, status: 'FAILED', failureCode: failureCodes.bankDeclined }));
  }
  return finish(progress, await ledger.endTransaction({ ...input, status: 'EXPIRED', failureCode: failureCodes.bankTimeout }));
}

export function finish(progress: PaymentProgress, outcome: PaymentOutcome): PaymentOutcome {
  progress.stage = 'finished';
  progress.outcome = outcome.status;
  upsertSearchAttributes([{ key: searchAttributes.status, value: outcome.status }]);
  setCurrentDetails(`${outcome.status}${outcome.failureCode ? ` (${outcome.failureCode})` : ''}`);
  return outcome;
}
