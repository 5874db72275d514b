// A payment waiting for an operator (IN_REVIEW), its money held. Operators decide through the operator
// API, which records the decision in the database and then sends reviewDecided (only a prompt), or in
// the Temporal UI with a reviewDecision signal {decision: "approve" | "reject", operator, reason}, which
// is parsed like any input and recorded by an activity under that operator's name. Either way the
// workflow acts on the database's status. With no decision by the deadline the payment ends FAILED
// (REVIEW_TIMEOUT) and its hold is released.
import { condition, defineSignal, log, setCurrentDetails, setHandler, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { SignalledDecision } from '../activities/review';
import { isFinalStatus, searchAttributes, type PaymentOutcome } from '../common/transactions';
import { ledgerActivities as ledger } from './bank-wait';

/** From the operator API, after it recorded the decision: look at the database. */
export const reviewDecidedSignal = defineSignal('reviewDecided');
/** From an operator in the Temporal UI: {decision, operator, reason}, typed unknown until parsed. */
export const reviewDecisionSignal = defineSignal<[unknown]>('reviewDecision');

/** Looks at the status on prompts, at most this many per payment; more prompts wait for the deadline. */
const looksMax = 20;
/** Decisions (or malformed signals) kept between looks; more are dropped (and logged). */
const signalsWaitingMax = 10;
const operatorPattern = /^[a-z][a-z0-9._-]{1,63}$/;
const reasonLengthMax = 500;

/** Parses a reviewDecision payload (deterministic): the decision, or why it is refused. */
export function parseReviewDecision(payload: unknown): SignalledDecision | string {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'not an object';
  const { decision, operator, reason } = payload as Record<string, unknown>;
  const normalized = typeof decision === 'string' ? decision.toUpperCase() : null;
  if (normalized !== 'APPROVE' && normalized !== 'REJECT') return 'decision is not approve or reject';
  if (typeof operator !== 'string' || !operatorPattern.test(operator)) return 'operator is not an operator name';
  if (typeof reason !== 'string' || reason.trim().length === 0 || [...reason].length > reasonLengthMax) return `reason is not 1 to ${reasonLengthMax} characters`;
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(reason)) return 'reason has control characters';
  return { decision: normalized, operator, reason: reason.trim() };
}

/** Resolves null once the payment is approved (go on), or with its outcome when it ended instead. */
export async function awaitReview(transactionId: string, userId: string | null = null): Promise<PaymentOutcome | null> {
  let prompted = false;
  let decisions: SignalledDecision[] = [];
  let malformed: string[] = [];
  setHandler(reviewDecidedSignal, () => {
    prompted = true;
  });
  setHandler(reviewDecisionSignal, (payload: unknown) => {
    prompted = true;
    if (decisions.length + malformed.length >= signalsWaitingMax) {
      log.warn('dropped a review decision signal: too many waiting', { transactionId });
      return;
    }
    const parsed = parseReviewDecision(payload);
    if (typeof parsed === 'string') malformed.push(parsed);
    else decisions.push(parsed);
  });
  let waiting = false;
  for (let looks = 0; ; looks++) {
    if (decisions.length > 0 || malformed.length > 0) {
      const taken = { decisions, malformed };
      [decisions, malformed] = [[], []];
      await ledger.recordSignalledDecisions({ transactionId, userId, ...taken });
    }
    const state = await ledger.reviewState({ transactionId });
    if (state.status !== 'IN_REVIEW') {
      if (waiting) upsertSearchAttributes([{ key: searchAttributes.status, value: state.status }]);
      return isFinalStatus(state.status) ? { transactionId, status: state.status, failureCode: state.failureCode } : null;
    }
    if (!waiting) {
      waiting = true;
      upsertSearchAttributes([{ key: searchAttributes.status, value: 'IN_REVIEW' }]);
      setCurrentDetails(`In review: waiting for an operator's decision until ${state.deadlineAt} (signal reviewDecision {"decision":"approve"|"reject","operator":"<name>","reason":"..."})`);
    }
    const remainingMs = state.deadlineAt ? Date.parse(state.deadlineAt) - Date.now() : 0;
    if (looks >= looksMax) await sleep(Math.max(remainingMs, 0));
    else if (remainingMs > 0 && (await condition(() => prompted, remainingMs))) {
      prompted = false;
      continue;
    }
    const outcome = await ledger.expireReview({ transactionId });
    if (isFinalStatus(outcome.status)) {
      upsertSearchAttributes([{ key: searchAttributes.status, value: outcome.status }]);
      return outcome;
    }
    // Decided a moment before the deadline: one more look settles it.
  }
}
