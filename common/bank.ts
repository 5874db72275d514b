// What crosses the boundary between ZenPAY and a bank, shared by the webhook receiver, the activities
// and the workflows (so it must stay free of Node built-ins and I/O): error types, the bankOutcome
// signal's payload and its parser. A signal or a webhook is only ever a prompt to ask the bank.

/** Error types of bank steps: shared constants, never strings typed twice. */
export const bankErrorTypes = {
  /** The bank refused the request for good (a 4xx other than 408/429, after a look-up by reference). */
  rejected: 'BANK_REJECTED',
  /** The bank stayed unreachable (or answered 408/429/5xx) for longer than the configured bound. */
  unavailable: 'BANK_UNAVAILABLE',
  /** The bank's object is not the one the transaction made (id, reference, amount or currency differ). */
  mismatch: 'BANK_MISMATCH',
} as const;

/** The longest BANK_API_TIMEOUT_MS the configuration allows. */
export const bankApiTimeoutMsMax = 60_000;
/** A bank activity makes at most this many calls (e.g. a create refused, then a look-up by reference). */
export const bankCallsPerActivityMax = 3;
/** So an activity's start-to-close timeout derives from the configured bound; heartbeats catch a dead worker sooner. */
export const bankActivityTimeoutMs = bankApiTimeoutMsMax * bankCallsPerActivityMax + 10_000;
export const bankActivityHeartbeatTimeoutMs = 10_000;

export type BankObjectKind = 'payment' | 'payout' | 'refund';
export type BankClaimStatus = 'succeeded' | 'failed';

/** The payload of the bankOutcome signal: a claim about a bank object, from a verified webhook or an operator. */
export interface BankOutcomeSignal {
  /** The webhook-id it came from, or "operator:<name>" for a hand-delivered outcome. */
  webhookId: string;
  kind?: BankObjectKind;
  /** Set by the webhook receiver; anything else (the Temporal UI, a script) is a signal's own word. */
  source?: 'webhook';
  bankObjectId: string;
  reference: string;
  amount: string;
  status: BankClaimStatus;
}

const textMax = 255;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= textMax;
const moneyPattern = /^[1-9][0-9]{0,14}$/;

/**
 * Parses a signal payload like any other input: anything malformed (null, wrong types, unknown status,
 * oversized text) gives null and is ignored by the caller, never thrown inside a workflow.
 */
export function parseBankOutcome(payload: unknown): BankOutcomeSignal | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
  const value = payload as Record<string, unknown>;
  if (!isText(value.webhookId) || !isText(value.bankObjectId) || !isText(value.reference)) return null;
  if (typeof value.amount !== 'string' || !moneyPattern.test(value.amount)) return null;
  if (value.status !== 'succeeded' && value.status !== 'failed') return null;
  if (value.kind !== undefined && value.kind !== 'payment' && value.kind !== 'payout' && value.kind !== 'refund') return null;
  if (value.source !== undefined && value.source !== 'webhook') return null;
  return {
    webhookId: value.webhookId,
    ...(value.kind ? { kind: value.kind } : {}),
    ...(value.source ? { source: value.source } : {}),
    bankObjectId: value.bankObjectId,
    reference: value.reference,
    amount: value.amount,
    status: value.status,
  };
}
