// An on-ramp (addMoney): create the payment at the bank, wait for the user's approval, credit the
// wallet once the bank's status API confirms it. A webhook or signal only prompts that look. At the
// deadline the payment is canceled at the bank first, so a late approval can no longer take money;
// if the approval won the race, it is credited.
import { setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { failureCodes } from '../common/errors';
import { searchAttributes, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import { acceptBankClaims, progressQuery, type PaymentProgress } from './bank-outcome';
import { bankActivities as bank, finish, ledgerActivities as ledger, waitForBankWord } from './bank-wait';

export async function onRampWorkflow(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  const progress: PaymentProgress = { stage: 'creating payment at the bank', bank: null, bankObjectId: null, reference: input.transactionId, deadlineAt: null, outcome: null };
  setHandler(progressQuery, () => progress);
  let userId: string | null = null;
  const inbox = acceptBankClaims(input.transactionId, () => userId);

  const payment = await bank.startOnRamp(input);
  userId = payment.userId;
  if (payment.outcome) return finish(progress, payment.outcome);
  Object.assign(progress, { stage: 'waiting for the bank', bank: payment.bank, bankObjectId: payment.bankObjectId, deadlineAt: payment.deadlineAt });
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'AWAITING_BANK' }]);
  setCurrentDetails(`Waiting for ${payment.bank} to approve payment ${payment.bankObjectId} (reference ${input.transactionId}) until ${payment.deadlineAt}`);

  const expected = { transactionId: input.transactionId, userId: payment.userId, kind: 'payment' as const, bankObjectId: payment.bankObjectId, amount: payment.amount };
  const decided = await waitForBankWord(expected, inbox, Date.now() + payment.decisionTimeoutMs);
  if (!decided) progress.stage = 'deadline passed: canceling the payment at the bank';
  const status = decided?.status ?? (await bank.cancelPayment(input));
  if (status === 'succeeded') {
    return finish(progress, await ledger.creditOnRamp({ transactionId: input.transactionId, bankObjectId: payment.bankObjectId, amount: payment.amount }));
  }
  const end = {
    failed: { status: 'FAILED', failureCode: failureCodes.bankDeclined },
    canceled: { status: 'EXPIRED', failureCode: failureCodes.bankTimeout },
    // The bank could not be reached to cancel: nothing is credited now; should the payment succeed
    // later, the reconciler refunds it.
    unavailable: { status: 'FAILED', failureCode: failureCodes.bankUnavailable },
    pending: { status: 'FAILED', failureCode: failureCodes.bankUnavailable },
  } as const;
  return finish(progress, await ledger.endTransaction({ transactionId: input.transactionId, ...end[status] }));
}
