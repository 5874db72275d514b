// How a payment workflow hears about the bank: the bankOutcome signal (from a verified webhook or an
// operator in the Temporal UI) is parsed like any input and kept as a claim. A claim is only a
// prompt to ask the bank's status API; the bank's answer decides. Claims the bank denies, and
// malformed signals, are reported to the security event log.
import { condition, defineQuery, defineSignal, log, setHandler } from '@temporalio/workflow';
import { parseBankOutcome, type BankOutcomeSignal } from '../common/bank';
import type { SecurityEvent } from '../db/security-events';
import type { BankView } from '../activities/bank-payments';

export type { BankOutcomeSignal };

/** The payload is typed unknown on purpose: whatever arrives is parsed before it is believed. */
export const bankOutcomeSignal = defineSignal<[unknown]>('bankOutcome');

export interface PaymentProgress {
  stage: string;
  bank: string | null;
  bankObjectId: string | null;
  reference: string;
  deadlineAt: string | null;
  outcome: string | null;
}

/** Operators (Temporal UI, CLI) ask a payment workflow where it stands. */
export const progressQuery = defineQuery<PaymentProgress>('progress');

/** A bank sends a handful of webhooks per payment; more than this waiting at once is noise. */
const claimsWaitingMax = 50;
/** Malformed signals reported per run; past this they are only counted. */
const malformedReportedMax = 20;

export interface ClaimInbox {
  /** True once a claim arrived that was not yet taken. */
  hasClaims(): boolean;
  /** Takes the claims that arrived, and the security events of malformed signals since the last take. */
  take(): { claims: BankOutcomeSignal[]; malformed: SecurityEvent[] };
  /** Waits for a claim until timeoutMs; true when one came. */
  waitForClaim(timeoutMs: number): Promise<boolean>;
}

export function acceptBankClaims(transactionId: string, userId: () => string | null): ClaimInbox {
  let claims: BankOutcomeSignal[] = [];
  let malformed: SecurityEvent[] = [];
  let malformedCount = 0;
  setHandler(bankOutcomeSignal, (payload: unknown) => {
    const claim = parseBankOutcome(payload);
    if (!claim) {
      malformedCount++;
      log.warn('ignored a malformed bankOutcome signal', { transactionId, malformedCount });
      if (malformedCount <= malformedReportedMax) {
        malformed.push({
          kind: 'bank.signal_malformed',
          outcome: 'ignored',
          userId: userId(),
          actor: 'temporal-signal',
          subject: transactionId,
          details: { payload: describePayload(payload) },
        });
      }
      return;
    }
    if (claims.length >= claimsWaitingMax) {
      log.warn('dropped a bank outcome: too many waiting', { transactionId, webhookId: claim.webhookId });
      return;
    }
    claims.push(claim);
  });
  return {
    hasClaims: () => claims.length > 0 || malformed.length > 0,
    take() {
      const taken = { claims, malformed };
      claims = [];
      malformed = [];
      return taken;
    },
    waitForClaim: (timeoutMs) => condition(() => claims.length > 0 || malformed.length > 0, timeoutMs),
  };
}

/** A short, safe description of a payload that failed to parse (never the whole thing). */
function describePayload(payload: unknown): string {
  if (payload === null || typeof payload !== 'object') return `${payload === null ? 'null' : typeof payload}`;
  return `object with keys ${Object.keys(payload).slice(0, 10).join(',').slice(0, 200)}`;
}

/**
 * The security events of claims weighed against the bank's own answer: a claim that names another
 * object or reference, or an outcome the bank does not confirm, was denied (a forged webhook or signal,
 * or a bank at odds with itself) and moved nothing.
 */
export function deniedClaims(
  claims: readonly BankOutcomeSignal[],
  expected: { transactionId: string; userId: string | null; bankObjectId: string; amount: string },
  view: BankView,
): SecurityEvent[] {
  const events: SecurityEvent[] = [];
  // The bank could not be asked: the claims are neither confirmed nor denied (the deadline asks again).
  if (view.status === 'unavailable') return events;
  for (const claim of claims) {
    // A refund's word prompts the reconciliation's refund look, which checks it with the bank itself.
    if (claim.kind === 'refund') continue;
    const names =
      claim.reference === expected.transactionId && claim.bankObjectId === expected.bankObjectId && claim.amount === expected.amount;
    const confirmed = names && view.status === claim.status;
    if (confirmed) continue;
    events.push({
      kind: 'bank.claim_denied',
      outcome: 'denied',
      userId: expected.userId,
      actor: claim.source === 'webhook' ? 'bank-webhook' : 'temporal-signal',
      subject: expected.transactionId,
      details: {
        webhookId: claim.webhookId.slice(0, 120),
        claimed: { status: claim.status, bankObjectId: claim.bankObjectId.slice(0, 120), reference: claim.reference.slice(0, 120), amount: claim.amount },
        bankSays: view.status,
        reason: names ? 'the bank does not confirm the claimed outcome' : 'the claim names another object, reference or amount',
      },
    });
  }
  return events;
}
