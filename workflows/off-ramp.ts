// An off-ramp (withdraw): hold the amount at once, create the payout at the bank, wait for its outcome,
// then post the hold (COMPLETED) or void it (FAILED: money back to available). A payout the bank has
// not decided by the deadline may still be paid, so the hold stays and the bank is asked again
// until it decides: every path ends with the hold posted or voided, never dangling and never guessed.
import { ApplicationFailure, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { searchAttributes, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import { acceptBankOutcomes, progressQuery, waitForOutcome, type PaymentProgress } from './bank-outcome';
import { finish } from './on-ramp';
import { bankRetry, ledgerRetry } from './retry-policies';

const ledger = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: ledgerRetry });
const bank = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: bankRetry });

const overduePollIntervalMsMin = 5_000;
const overduePollIntervalMsMax = 60 * 60 * 1000;
/** About a month of hourly polls; past that an operator must look (the workflow fails loudly). */
const overduePollsMax = 1_000;

export async function offRampWorkflow(input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  const progress: PaymentProgress = { stage: 'holding the amount', bank: null, bankObjectId: null, reference: input.transactionId, deadlineAt: null, outcome: null };
  setHandler(progressQuery, () => progress);
  let amount: string | null = null;
  const readOutcome = acceptBankOutcomes({ reference: input.transactionId, amount: () => amount, bankObjectId: () => progress.bankObjectId });

  const refused = await ledger.holdWithdrawal(input);
  if (refused) return finish(progress, refused);

  progress.stage = 'creating payout at the bank';
  const payout = await bank.startPayout(input);
  if (payout.outcome) return finish(progress, payout.outcome);
  amount = payout.amount;
  Object.assign(progress, { stage: 'waiting for the bank', bank: payout.bank, bankObjectId: payout.bankObjectId, deadlineAt: payout.deadlineAt });
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'AWAITING_BANK' }]);
  setCurrentDetails(`Waiting for ${payout.bank} to settle payout ${payout.bankObjectId} (reference ${input.transactionId}) until ${payout.deadlineAt}`);

  let decision = (await waitForOutcome(readOutcome, payout.decisionTimeoutMs)) ? readOutcome()!.status : undefined;
  let pollIntervalMs = overduePollIntervalMsMin;
  for (let poll = 0; !decision; poll++) {
    if (poll >= overduePollsMax) {
      throw ApplicationFailure.nonRetryable(`payout ${payout.bankObjectId} undecided after ${poll} polls; hold kept`, 'PAYOUT_UNDECIDED');
    }
    progress.stage = `overdue: asking the bank (poll ${poll + 1})`;
    const status = await bank.bankStatus({ kind: 'payout', bankObjectId: payout.bankObjectId });
    decision = readOutcome()?.status ?? (status === 'pending' ? undefined : status);
    if (decision) break;
    setCurrentDetails(`Overdue: ${payout.bank} has not settled payout ${payout.bankObjectId}; asking again in ${pollIntervalMs / 1000} s (hold kept)`);
    if (await waitForOutcome(readOutcome, pollIntervalMs)) decision = readOutcome()!.status;
    pollIntervalMs = Math.min(pollIntervalMs * 2, overduePollIntervalMsMax);
  }
  return finish(progress, await ledger.settleWithdrawal({ ...input, decision }));
}
