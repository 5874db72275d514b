// What the webhook receiver tells a waiting payment workflow, and how the workflow waits for it:
// the first final outcome that matches the payment wins; anything later or contradicting is ignored.
import { condition, defineQuery, defineSignal, log, setHandler } from '@temporalio/workflow';

/** The bank's word on a payment or payout, from a verified webhook (or an operator in the Temporal UI). */
export interface BankOutcomeSignal {
  webhookId: string;
  bankObjectId: string;
  reference: string;
  amount: string;
  status: 'succeeded' | 'failed';
}

export const bankOutcomeSignal = defineSignal<[BankOutcomeSignal]>('bankOutcome');

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

export interface Expected {
  reference: string;
  /** Known once the bank step ran; until then nothing matches, and signals wait in the buffer. */
  amount: () => string | null;
  bankObjectId: () => string | null;
}

/** A bank sends a handful of webhooks per payment; more than this is noise and is dropped. */
const bufferedSignalsMax = 50;

/**
 * Installs the signal handler; returns a reader of the accepted outcome. Signals are kept as they
 * come (a webhook can arrive before the workflow knows the bank's id) and matched when read.
 */
export function acceptBankOutcomes(expected: Expected): () => BankOutcomeSignal | undefined {
  const received: BankOutcomeSignal[] = [];
  setHandler(bankOutcomeSignal, (signal) => {
    if (received.length >= bufferedSignalsMax) {
      log.warn('dropped a bank outcome: too many signals', { webhookId: signal.webhookId });
      return;
    }
    received.push(signal);
  });
  return () => {
    const amount = expected.amount();
    const bankObjectId = expected.bankObjectId();
    if (amount === null || bankObjectId === null) return undefined;
    return received.find(
      (signal) => signal.reference === expected.reference && signal.amount === amount && signal.bankObjectId === bankObjectId,
    );
  };
}

/** Waits for an outcome until the deadline; true when one came. */
export async function waitForOutcome(read: () => BankOutcomeSignal | undefined, timeoutMs: number): Promise<boolean> {
  return condition(() => read() !== undefined, timeoutMs);
}
