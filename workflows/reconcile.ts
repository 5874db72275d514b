// Reconciliation of one transaction whose own workflow is gone (finished, failed, terminated) or never
// ran: one path for every late or stray bank word and for everything the reconciler finds unfinished.
// It asks the bank (the only proof) and then finishes the transaction, refunds at the bank money the
// bank took for an on-ramp that already ended without credit, or flags it for an operator with a reason.
// Started by signal-with-start from the webhook receiver (the bank's word is the signal) and by the
// reconciler; its id derives from the transaction, whose one bank object has the transaction id as reference.
import { continueAsNew, patched, setHandler } from '@temporalio/workflow';
import type { TransactionSummary } from '../activities/bank-payments';
import { failureCodes } from '../common/errors';
import { isFinalStatus, type PaymentOutcome } from '../common/transactions';
import { acceptBankClaims, progressQuery, type ClaimInbox, type PaymentProgress } from './bank-outcome';
import { awaitConfirmation } from './confirmation';
import { awaitReview } from './review';
import { bankActivities as bank, isDecided, ledgerActivities as ledger, lookAtBank, type Expected } from './bank-wait';
import { postTransferActivity } from './transfer';

export interface ReconcileInput {
  transactionId: string;
  /** Why it was started, for the record: 'webhook for a closed workflow', 'reconciler: workflow closed', ... */
  reason: string;
  /** Polls done by earlier runs (continue-as-new). */
  polls?: number;
}

export type ReconcileAction = 'none' | 'finished' | 'refunded' | 'refund_failed' | 'flagged' | 'unknown_transaction';
export interface ReconcileResult {
  transactionId: string;
  action: ReconcileAction;
  outcome: PaymentOutcome | null;
}

const pollIntervalMsMin = 2_000;
const pollIntervalMsMax = 30 * 60 * 1000;
const pollsPerRunMax = 5;

export async function reconcileWorkflow(input: ReconcileInput): Promise<ReconcileResult> {
  const progress: PaymentProgress = { stage: 'reading the transaction', bank: null, bankObjectId: null, reference: input.transactionId, deadlineAt: null, outcome: null };
  setHandler(progressQuery, () => progress);
  let userId: string | null = null;
  const inbox = acceptBankClaims(input.transactionId, () => userId);
  const transaction = await bank.describeTransaction({ transactionId: input.transactionId });
  if (!transaction) return { transactionId: input.transactionId, action: 'unknown_transaction', outcome: null };
  userId = transaction.userId;
  const done = (action: ReconcileAction, outcome: PaymentOutcome | null = null): ReconcileResult => {
    progress.stage = `done: ${action}`;
    progress.outcome = outcome?.status ?? transaction.status;
    return { transactionId: input.transactionId, action, outcome };
  };
  if (transaction.status === 'AWAITING_CONFIRMATION') {
    // Its workflow is gone while its user may still confirm: wait out the challenge here instead.
    const ended = await awaitConfirmation(input.transactionId);
    if (ended) return done('finished', ended);
    transaction.status = 'PENDING';
    // Confirmed, it may have gone to review (fraud rules): the review's wait settles that.
    if (patched('fraud-review-after-confirmation')) transaction.status = 'IN_REVIEW';
  }
  if (transaction.status === 'IN_REVIEW') {
    const ended = await awaitReview(input.transactionId, transaction.userId);
    if (ended) return done('finished', ended);
    transaction.status = 'PENDING';
  }
  if (transaction.kind === 'TRANSFER') {
    return isFinalStatus(transaction.status) ? done('none') : done('finished', await postTransferActivity({ transactionId: input.transactionId }));
  }
  const expected: Expected = {
    transactionId: input.transactionId,
    userId: transaction.userId,
    kind: transaction.kind === 'ON_RAMP' ? 'payment' : 'payout',
    bankObjectId: transaction.bankObjectId ?? '',
    amount: transaction.amount,
  };
  progress.stage = 'asking the bank';
  let polls = input.polls ?? 0;
  for (let pollsThisRun = 0; ; pollsThisRun++) {
    if (pollsThisRun >= pollsPerRunMax) return continueAsNew<typeof reconcileWorkflow>({ ...input, polls });
    let view = await lookAtBank(expected, inbox.take());
    polls++;
    if (view.status === 'mismatch') return done('flagged');
    if (view.status === 'missing') {
      // The bank never had it: nothing was taken or paid; end it (voiding any hold).
      if (isFinalStatus(transaction.status)) {
        if (patched('record-bank-final')) await bank.recordBankFinal({ transactionId: input.transactionId, bankStatus: 'missing' });
        return done('none');
      }
      return done('finished', await ledger.endTransaction({ transactionId: input.transactionId, status: 'FAILED', failureCode: failureCodes.notAtBank }));
    }
    if (view.status === 'pending' && transaction.kind === 'ON_RAMP') {
      // No workflow waits for the user any more: close the payment at the bank, then act on what won.
      const status = await bank.cancelPayment({ transactionId: input.transactionId });
      if (status !== 'unavailable' && status !== 'pending') view = { status, bankObjectId: view.bankObjectId, amount: view.amount };
    }
    if (isDecided(view)) {
      return transaction.kind === 'ON_RAMP'
        ? settleOnRamp(transaction, view, inbox, done)
        : settleOffRamp(transaction, view, done);
    }
    progress.stage = `the bank has not decided (${view.status}); asking again`;
    await inbox.waitForClaim(Math.min(pollIntervalMsMin * 2 ** Math.min(polls, 20), pollIntervalMsMax));
  }
}

type Done = (action: ReconcileAction, outcome?: PaymentOutcome | null) => ReconcileResult;
type Decided = { status: 'succeeded' | 'failed' | 'canceled'; bankObjectId: string; amount: string };

async function settleOnRamp(transaction: TransactionSummary, view: Decided, inbox: ClaimInbox, done: Done): Promise<ReconcileResult> {
  const transactionId = transaction.transactionId;
  if (!isFinalStatus(transaction.status)) {
    if (view.status === 'succeeded') return done('finished', await ledger.creditOnRamp({ transactionId, bankObjectId: view.bankObjectId, amount: view.amount }));
    const end = view.status === 'failed' ? { status: 'FAILED', failureCode: failureCodes.bankDeclined } as const : { status: 'EXPIRED', failureCode: failureCodes.bankTimeout } as const;
    return done('finished', await ledger.endTransaction({ transactionId, ...end }));
  }
  if (view.status !== 'succeeded' || transaction.status === 'COMPLETED') {
    // The bank's final word on an on-ramp that ended without credit: nothing to give back; never asked again.
    if (patched('record-bank-final')) await bank.recordBankFinal({ transactionId, bankStatus: view.status });
    return done('none');
  }
  // The bank took money for an on-ramp that ended without credit: give it back at the bank.
  if (transaction.refundStatus === 'succeeded') return done('refunded');
  let refund = await bank.requestRefund({ transactionId, bankObjectId: view.bankObjectId, reason: `payment ${view.bankObjectId} succeeded after the on-ramp ended ${transaction.status}` });
  for (let looks = 0; refund !== 'succeeded' && refund !== 'failed'; looks++) {
    await inbox.waitForClaim(Math.min(pollIntervalMsMin * 2 ** Math.min(looks, 20), pollIntervalMsMax));
    inbox.take();
    // No refund at the bank yet (it was unreachable when asked): ask for it again (idempotent on its reference).
    const ask = (refund === 'unavailable' || refund === 'requested') && patched('refund-request-retry');
    refund = ask
      ? await bank.requestRefund({ transactionId, bankObjectId: view.bankObjectId, reason: `payment ${view.bankObjectId} succeeded after the on-ramp ended ${transaction.status}` })
      : await bank.confirmRefund({ transactionId });
  }
  if (refund === 'succeeded') return done('refunded');
  await bank.recordSecurityEvents([
    { kind: 'reconcile.refund_failed', outcome: 'flagged', userId: transaction.userId, actor: 'system', subject: transactionId, details: { bankObjectId: view.bankObjectId } },
  ]);
  return done('refund_failed');
}

async function settleOffRamp(transaction: TransactionSummary, view: Decided, done: Done): Promise<ReconcileResult> {
  const transactionId = transaction.transactionId;
  const decision = view.status === 'succeeded' ? 'succeeded' : 'failed';
  if (!isFinalStatus(transaction.status)) return done('finished', await ledger.settleWithdrawal({ transactionId, bankObjectId: view.bankObjectId, decision }));
  const agrees = (transaction.status === 'COMPLETED') === (decision === 'succeeded');
  if (agrees) return done('none');
  // The ledger and the bank disagree about money that left: only a person can recover it.
  await bank.recordSecurityEvents([
    {
      kind: decision === 'succeeded' ? 'reconcile.paid_after_release' : 'reconcile.failed_after_post',
      outcome: 'flagged',
      userId: transaction.userId,
      actor: 'system',
      subject: transactionId,
      details: { bankObjectId: view.bankObjectId, bankSays: view.status, ledgerSays: transaction.status },
    },
  ]);
  return done('flagged');
}
