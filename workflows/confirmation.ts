// A payment waiting for its user's second factor (AWAITING_CONFIRMATION): the paymentConfirmed signal
// (sent by the API once the code checked out) is only a prompt; the database's status is the proof.
// When the challenge runs out the payment ends EXPIRED (CONFIRMATION_EXPIRED), releasing any hold.
import { condition, defineSignal, setHandler, sleep } from '@temporalio/workflow';
import { isFinalStatus, type PaymentOutcome } from '../common/transactions';
import { ledgerActivities as ledger } from './bank-wait';

export const paymentConfirmedSignal = defineSignal('paymentConfirmed');

/** Looks at the status on prompts, at most this many per payment; more prompts wait for the expiry. */
const looksMax = 20;

/** Resolves null once the payment is confirmed (go on), or with its outcome when it ended instead. */
export async function awaitConfirmation(transactionId: string): Promise<PaymentOutcome | null> {
  let prompted = false;
  setHandler(paymentConfirmedSignal, () => {
    prompted = true;
  });
  for (let looks = 0; ; looks++) {
    const state = await ledger.confirmationState({ transactionId });
    if (state.status !== 'AWAITING_CONFIRMATION') {
      return isFinalStatus(state.status) ? { transactionId, status: state.status, failureCode: state.failureCode } : null;
    }
    const remainingMs = state.expiresAt ? Date.parse(state.expiresAt) - Date.now() : 0;
    if (looks >= looksMax) await sleep(Math.max(remainingMs, 0));
    else if (remainingMs > 0 && (await condition(() => prompted, remainingMs))) {
      prompted = false;
      continue;
    }
    const outcome = await ledger.expireConfirmation({ transactionId });
    if (isFinalStatus(outcome.status)) return outcome;
    // Confirmed a moment before the expiry: go on (one more look settles it).
  }
}
