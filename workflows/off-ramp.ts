// An off-ramp (withdraw): hold the amount at once, create the payout at the bank, wait for its outcome
// as the bank's status API states it (a webhook or signal only prompts the look), then post the hold
// (COMPLETED) or void it (FAILED: money back to available). A payout the bank has not decided by the
// deadline may still be paid, so the hold stays and the bank is asked again with backoff until it
// decides; the polling continues as new every few polls, so its history stays short however long it takes.
import { continueAsNew, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import { acceptBankClaims, progressQuery, type PaymentProgress } from './bank-outcome';
import { awaitConfirmation } from './confirmation';
import { awaitReview } from './review';
import { bankActivities as bank, finish, isDecided, ledgerActivities as ledger, lookAtBank, waitForBankWord, type DecidedView } from './bank-wait';

export interface OffRampInput extends PaymentWorkflowInput {
  /** Set when an overdue payout's polling continued as new. */
  overdue?: { pollIntervalMs: number; polls: number };
}

const overduePollIntervalMsMin = 5_000;
const overduePollIntervalMsMax = 60 * 60 * 1000;
const pollsPerRunMax = 5;
/** About a day of polls: past this an operator is told (the hold stays: the bank may still pay). */
const pollsBeforeFlag = 30;

export async function offRampWorkflow(input: OffRampInput): Promise<PaymentOutcome> {
  const progress: PaymentProgress = { stage: 'holding the amount', bank: null, bankObjectId: null, reference: input.transactionId, deadlineAt: null, outcome: null };
  setHandler(progressQuery, () => progress);
  let userId: string | null = null;
  const inbox = acceptBankClaims(input.transactionId, () => userId);

  const refused = await ledger.holdWithdrawal({ transactionId: input.transactionId });
  if (refused) return finish(progress, refused);
  if (input.awaitConfirmation) {
    // Held first, so the money is reserved while the user confirms; an expiry releases it.
    progress.stage = 'waiting for the user to confirm';
    const ended = await awaitConfirmation(input.transactionId);
    if (ended) return finish(progress, ended);
  }
  if (input.awaitReview) {
    // Held first, as for a confirmation: a rejection or the review's deadline releases it.
    progress.stage = 'waiting for an operator\'s review';
    const ended = await awaitReview(input.transactionId);
    if (ended) return finish(progress, ended);
  }
  progress.stage = 'creating payout at the bank';
  const payout = await bank.startPayout({ transactionId: input.transactionId });
  userId = payout.userId;
  if (payout.outcome) return finish(progress, payout.outcome);
  Object.assign(progress, { stage: 'waiting for the bank', bank: payout.bank, bankObjectId: payout.bankObjectId, deadlineAt: payout.deadlineAt });
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'AWAITING_BANK' }]);
  setCurrentDetails(`Waiting for ${payout.bank} to settle payout ${payout.bankObjectId} (reference ${input.transactionId}) until ${payout.deadlineAt}`);

  const expected = { transactionId: input.transactionId, userId: payout.userId, kind: 'payout' as const, bankObjectId: payout.bankObjectId, amount: payout.amount };
  let decided: DecidedView | null = input.overdue ? null : await waitForBankWord(expected, inbox, Date.now() + payout.decisionTimeoutMs);
  let pollIntervalMs = input.overdue?.pollIntervalMs ?? Math.min(overduePollIntervalMsMin, payout.decisionTimeoutMs);
  let polls = input.overdue?.polls ?? 0;
  for (let pollsThisRun = 0; decided === null; pollsThisRun++) {
    if (pollsThisRun >= pollsPerRunMax) {
      return continueAsNew<typeof offRampWorkflow>({ transactionId: input.transactionId, overdue: { pollIntervalMs, polls } });
    }
    progress.stage = `overdue: asking the bank (poll ${polls + 1})`;
    const view = await lookAtBank(expected, inbox.take());
    polls++;
    if (isDecided(view)) {
      decided = view;
      continue;
    }
    if (polls === pollsBeforeFlag) {
      await bank.recordSecurityEvents([
        { kind: 'payout.undecided', outcome: 'flagged', userId: payout.userId, actor: 'system', subject: input.transactionId, details: { polls, bankSays: view.status } },
      ]);
    }
    setCurrentDetails(`Overdue: ${payout.bank} has not settled payout ${payout.bankObjectId} (${view.status}); asking again in ${pollIntervalMs / 1000} s (hold kept)`);
    await inbox.waitForClaim(pollIntervalMs);
    pollIntervalMs = Math.min(pollIntervalMs * 2, overduePollIntervalMsMax);
  }
  return finish(progress, await settle(input.transactionId, decided));
}

/** The bank decided: post the hold when it paid out, void it otherwise (failed, or canceled by the bank). */
function settle(transactionId: string, decided: DecidedView): Promise<PaymentOutcome> {
  const decision = decided.status === 'succeeded' ? 'succeeded' : 'failed';
  return ledger.settleWithdrawal({ transactionId, bankObjectId: decided.bankObjectId, decision });
}
