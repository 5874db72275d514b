// Waiting for a bank's decision, shared by on-ramps, off-ramps and reconciliation: claims (signals)
// prompt a look at the bank's status API until a deadline; only the bank's own answer decides.
import { proxyActivities, setCurrentDetails, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BankView } from '../activities/bank-payments';
import { bankActivityHeartbeatTimeoutMs, bankActivityTimeoutMs } from '../common/bank';
import { searchAttributes, type PaymentOutcome } from '../common/transactions';
import { deniedClaims, type ClaimInbox, type PaymentProgress } from './bank-outcome';
import { bankRetry, ledgerRetry } from './retry-policies';

export const bankActivities = proxyActivities<Activities>({
  startToCloseTimeout: bankActivityTimeoutMs,
  heartbeatTimeout: bankActivityHeartbeatTimeoutMs,
  retry: bankRetry,
});
export const ledgerActivities = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: ledgerRetry });

/** Bank look-ups one run makes on claims before its deadline; later claims wait for the deadline. */
const claimLooksMax = 20;

export type DecidedView = Extract<BankView, { bankObjectId: string }> & { status: 'succeeded' | 'failed' | 'canceled' };

export const isDecided = (view: BankView): view is DecidedView =>
  view.status === 'succeeded' || view.status === 'failed' || view.status === 'canceled';

export interface Expected {
  transactionId: string;
  userId: string;
  kind: 'payment' | 'payout';
  bankObjectId: string;
  amount: string;
}

/** Looks at the bank once, and reports every claim it denies and any object that is not ours. */
export async function lookAtBank(expected: Expected, claims: ClaimInbox['take'] extends () => infer T ? T : never): Promise<BankView> {
  const view = await bankActivities.viewAtBank({ transactionId: expected.transactionId, kind: expected.kind });
  const events = [...claims.malformed, ...deniedClaims(claims.claims, expected, view)];
  if (view.status === 'mismatch') {
    events.push({
      kind: 'bank.object_mismatch',
      outcome: 'flagged',
      userId: expected.userId,
      actor: 'system',
      subject: expected.transactionId,
      details: { bankObjectId: view.bankObjectId, detail: view.detail },
    });
  }
  if (events.length > 0) await bankActivities.recordSecurityEvents(events);
  return view;
}

/** Waits for claims until deadlineMs (workflow time), asking the bank on each; the decided view, or null at the deadline. */
export async function waitForBankWord(expected: Expected, inbox: ClaimInbox, deadlineMs: number): Promise<DecidedView | null> {
  for (let looks = 0; looks < claimLooksMax; looks++) {
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0 || !(await inbox.waitForClaim(remainingMs))) return null;
    const view = await lookAtBank(expected, inbox.take());
    if (isDecided(view)) return view;
  }
  // A flood of claims: the bank is asked again at the deadline, whatever they say.
  await sleep(Math.max(0, deadlineMs - Date.now()));
  return null;
}

export function finish(progress: PaymentProgress, outcome: PaymentOutcome): PaymentOutcome {
  progress.stage = 'finished';
  progress.outcome = outcome.status;
  upsertSearchAttributes([{ key: searchAttributes.status, value: outcome.status }]);
  setCurrentDetails(`${outcome.status}${outcome.failureCode ? ` (${outcome.failureCode})` : ''}`);
  return outcome;
}
