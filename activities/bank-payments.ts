// Activities of on-ramps (addMoney) and off-ramps (withdraw). Bank calls and ledger steps are separate
// activities (never a network call inside a database transaction); every ledger step is one SQL
// function call (db/payment-steps.ts), idempotent on the transaction id. The bank's status API is the
// only proof of an outcome: these activities fetch it and check it is the transaction's own object.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { bankErrorTypes, type BankObjectKind } from '../common/bank';
import { failureCodes } from '../common/errors';
import { isFinalStatus, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import * as steps from '../db/payment-steps';
import type { Pool } from '../db/pool';
import { recordSecurityEvent, type SecurityEvent } from '../db/security-events';
import { findTransaction, type TransactionRow } from '../db/transactions';
import { BankClient, BankUnavailableError, type BankObjectStatus } from './bank-client';
import { ledgerStep, outcomeOf } from './transfer';

export interface BankActivityDependencies {
  pool: Pool;
  bank: BankClient;
  /** How long to wait for the bank's webhook before asking its status API. */
  decisionTimeoutMs: number;
  /** A bank unreachable for longer than this (one activity's retries) ends a payment BANK_UNAVAILABLE. */
  unavailableAfterMs: number;
  /** The web app, where the bank's page sends the browser back after an on-ramp; none: the bank's own page. */
  webAppUrl?: string;
}

/** Where the bank's page sends the browser back: the web app's page of this on-ramp (never a client's choice). */
export function onRampReturnUrl(webAppUrl: string, transactionId: string): string {
  const url = new URL('add-money/return', webAppUrl.endsWith('/') ? webAppUrl : `${webAppUrl}/`);
  url.searchParams.set('transaction', transactionId);
  return url.toString();
}

/** What a workflow learns once the bank knows about the payment or payout. */
export interface BankStarted {
  /** Set when the transaction already ended (e.g. the bank refused the request). */
  outcome: PaymentOutcome | null;
  userId: string;
  bank: string;
  bankObjectId: string;
  amount: string;
  decisionTimeoutMs: number;
  deadlineAt: string;
}

/** The bank's own word on a transaction's object, checked against the transaction. */
export type BankView =
  | { status: BankObjectStatus; bankObjectId: string; amount: string }
  | { status: 'missing' | 'unavailable' }
  | { status: 'mismatch'; bankObjectId: string; detail: string };

export type BankDecision = 'succeeded' | 'failed';

async function loadTransaction(pool: Pool, id: string, kind: TransactionRow['kind']): Promise<TransactionRow> {
  const transaction = await findTransaction(pool, id);
  if (!transaction) throw ApplicationFailure.nonRetryable(`transaction ${id} does not exist`, 'MISSING_TRANSACTION');
  if (transaction.kind !== kind) throw ApplicationFailure.nonRetryable(`transaction ${id} is a ${transaction.kind}, not ${kind}`, 'WRONG_KIND');
  return transaction;
}

/** Bank attempts that must have failed (besides the time bound) before a payment gives up on the bank. */
const unavailableAttemptsMin = 3;

/**
 * Runs a bank call with heartbeats (a dead worker is noticed in seconds, not at the start-to-close
 * bound) and the availability bound: a bank unreachable since this activity was first scheduled for
 * longer than unavailableAfterMs, over at least a few failed attempts (time without a worker is not the
 * bank's fault), turns into a non-retryable BANK_UNAVAILABLE failure. Whether any attempt may have been
 * carried out by the bank (ambiguous) is kept across attempts in the heartbeat details and handed on.
 */
async function atBank<T>(deps: BankActivityDependencies, call: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const previous = context.info.heartbeatDetails as { ambiguous?: boolean } | undefined;
  let ambiguous = previous?.ambiguous === true;
  const beat = setInterval(() => context.heartbeat({ ambiguous }), 2_000);
  try {
    return await call();
  } catch (error) {
    if (error instanceof BankUnavailableError) {
      ambiguous ||= error.ambiguous;
      context.heartbeat({ ambiguous });
      const pastBound = Date.now() - context.info.scheduledTimestampMs > deps.unavailableAfterMs;
      if (pastBound && context.info.attempt >= unavailableAttemptsMin) {
        throw ApplicationFailure.create({ type: bankErrorTypes.unavailable, nonRetryable: true, message: error.message, details: [{ ambiguous }] });
      }
    }
    throw error;
  } finally {
    clearInterval(beat);
  }
}

const failureType = (error: unknown): string | null => (error instanceof ApplicationFailure ? (error.type ?? null) : null);

function started(transaction: TransactionRow, deps: BankActivityDependencies, outcome: PaymentOutcome | null): BankStarted {
  return {
    outcome,
    userId: transaction.userId,
    bank: transaction.bank!,
    bankObjectId: transaction.bankPaymentId ?? '',
    amount: String(transaction.amount),
    decisionTimeoutMs: deps.decisionTimeoutMs,
    deadlineAt: (transaction.bankDeadlineAt ?? new Date()).toISOString(),
  };
}

/**
 * The first bank step of an ON_RAMP or OFF_RAMP: create the payment or payout (idempotent on the
 * reference), then record AWAITING_BANK. A bank that refuses for good ends it FAILED BANK_REJECTED, one
 * down past the bound FAILED BANK_UNAVAILABLE (voiding a hold either way).
 */
async function startAtBank(
  deps: BankActivityDependencies,
  transactionId: string,
  kind: 'ON_RAMP' | 'OFF_RAMP',
  create: (transaction: TransactionRow) => Promise<{ bankObjectId: string; redirectUrl: string | null }>,
): Promise<BankStarted> {
  const transaction = await loadTransaction(deps.pool, transactionId, kind);
  const finalOutcome = (row: TransactionRow) => (isFinalStatus(row.status) ? outcomeOf(row) : null);
  if (transaction.status !== 'PENDING') return started(transaction, deps, finalOutcome(transaction));
  try {
    const { bankObjectId, redirectUrl } = await atBank(deps, () => create(transaction));
    const deadlineAt = new Date(Date.now() + deps.decisionTimeoutMs);
    const updated = await ledgerStep(() => steps.recordAwaitingBank(deps.pool, { transactionId, kind, bankObjectId, redirectUrl, deadlineAt }));
    return started(updated, deps, finalOutcome(updated));
  } catch (error) {
    const type = failureType(error);
    if (type !== bankErrorTypes.rejected && type !== bankErrorTypes.unavailable) throw error;
    if (type === bankErrorTypes.unavailable) {
      // A 408 or a timeout may hide an object the bank did make: ask by reference before giving up, so
      // that a payout the bank will pay never has its hold released. When the bank cannot even be asked
      // and an attempt may have been carried out, it is not released: the activity keeps trying.
      const made = await findByReference(deps, kind, transactionId);
      if (made !== 'absent' && made !== 'unknown') {
        const deadlineAt = new Date(Date.now() + deps.decisionTimeoutMs);
        const updated = await ledgerStep(() => steps.recordAwaitingBank(deps.pool, { transactionId, kind, bankObjectId: made, redirectUrl: null, deadlineAt }));
        return started(updated, deps, finalOutcome(updated));
      }
      const ambiguous = (error as ApplicationFailure).details?.some((detail) => (detail as { ambiguous?: boolean })?.ambiguous === true) ?? true;
      if (made === 'unknown' && ambiguous) throw new BankUnavailableError(`bank down after an attempt it may have carried out; ${kind} ${transactionId} kept waiting`, true);
    }
    const failureCode = type === bankErrorTypes.rejected ? failureCodes.bankRejected : failureCodes.bankUnavailable;
    const outcome = await ledgerStep(() => steps.endTransaction(deps.pool, { transactionId, status: 'FAILED', failureCode }));
    return started(transaction, deps, outcome);
  }
}

/** The id of the object the bank made for a transaction, found by reference; 'absent' when the bank says none, 'unknown' when it cannot say. */
async function findByReference(deps: BankActivityDependencies, kind: 'ON_RAMP' | 'OFF_RAMP', reference: string): Promise<string | 'absent' | 'unknown'> {
  const lookUp = { id: null, reference };
  try {
    const found = await (kind === 'ON_RAMP' ? deps.bank.findPayment(lookUp) : deps.bank.findPayout(lookUp));
    return found?.reference === reference ? found.id : 'absent';
  } catch {
    return 'unknown';
  }
}

/** Asks the bank for the transaction's object and checks it is the one the transaction made. */
async function viewAtBank(deps: BankActivityDependencies, transactionId: string, kind: 'payment' | 'payout'): Promise<BankView> {
  const transaction = await loadTransaction(deps.pool, transactionId, kind === 'payment' ? 'ON_RAMP' : 'OFF_RAMP');
  const lookUp = { id: transaction.bankPaymentId, reference: transaction.id };
  let object;
  try {
    object = await atBank(deps, () => (kind === 'payment' ? deps.bank.findPayment(lookUp) : deps.bank.findPayout(lookUp)));
  } catch (error) {
    if (failureType(error) === bankErrorTypes.unavailable) return { status: 'unavailable' };
    throw error;
  }
  if (!object) return { status: 'missing' };
  const expected = { reference: transaction.id, amount: String(transaction.amount), currency: transaction.currency };
  const differs = Object.entries(expected).find(([field, value]) => (object as unknown as Record<string, unknown>)[field] !== value);
  if (differs || (transaction.bankPaymentId && object.id !== transaction.bankPaymentId)) {
    return { status: 'mismatch', bankObjectId: object.id, detail: differs ? `${differs[0]} differs` : 'id differs' };
  }
  return { status: object.status, bankObjectId: object.id, amount: object.amount };
}

export function createBankActivities(deps: BankActivityDependencies) {
  return {
    /** Creates the bank payment of an ON_RAMP and moves it to AWAITING_BANK with the bank's page. */
    startOnRamp: ({ transactionId }: PaymentWorkflowInput): Promise<BankStarted> =>
      startAtBank(deps, transactionId, 'ON_RAMP', async (transaction) => {
        const returnUrl = deps.webAppUrl ? onRampReturnUrl(deps.webAppUrl, transaction.id) : undefined;
        const payment = await deps.bank.createPayment({ reference: transaction.id, amount: String(transaction.amount), bank: transaction.bank!, returnUrl });
        return { bankObjectId: payment.id, redirectUrl: payment.redirectUrl ?? null };
      }),

    /** Creates the bank payout of a held OFF_RAMP and moves it to AWAITING_BANK. */
    startPayout: ({ transactionId }: PaymentWorkflowInput): Promise<BankStarted> =>
      startAtBank(deps, transactionId, 'OFF_RAMP', async (transaction) => {
        const payout = await deps.bank.createPayout({
          reference: transaction.id,
          amount: String(transaction.amount),
          bank: transaction.bank!,
          bankAccount: transaction.bankAccount!,
        });
        return { bankObjectId: payout.id, redirectUrl: null };
      }),

    /** The bank's status API on the transaction's payment or payout: the only proof of an outcome. */
    viewAtBank: ({ transactionId, kind }: PaymentWorkflowInput & { kind: 'payment' | 'payout' }): Promise<BankView> =>
      viewAtBank(deps, transactionId, kind),

    /** Cancels an on-ramp's pending payment at the bank; answers its status after (canceled, or the outcome that won). */
    async cancelPayment({ transactionId }: PaymentWorkflowInput): Promise<BankObjectStatus | 'unavailable'> {
      const transaction = await loadTransaction(deps.pool, transactionId, 'ON_RAMP');
      if (!transaction.bankPaymentId) return 'canceled';
      try {
        return await atBank(deps, () => deps.bank.cancelPayment(transaction.bankPaymentId!));
      } catch (error) {
        if (failureType(error) === bankErrorTypes.unavailable) return 'unavailable';
        // The bank does not know the payment: it took nothing, and nothing can be approved any more.
        if (failureType(error) === bankErrorTypes.rejected) return 'canceled';
        throw error;
      }
    },

    /** Credits an on-ramp whose payment the bank confirmed. */
    creditOnRamp: (request: { transactionId: string; bankObjectId: string; amount: string }): Promise<PaymentOutcome> =>
      ledgerStep(() => steps.creditOnRamp(deps.pool, request)),

    /** Holds an OFF_RAMP's amount; null when held, else the outcome (INSUFFICIENT_FUNDS or an earlier end). */
    async holdWithdrawal({ transactionId }: PaymentWorkflowInput): Promise<PaymentOutcome | null> {
      const outcome = await ledgerStep(() => steps.holdWithdrawal(deps.pool, transactionId));
      return isFinalStatus(outcome.status) ? outcome : null;
    },

    /** Posts or voids a withdrawal's hold on the bank's confirmed decision. */
    settleWithdrawal: (request: { transactionId: string; bankObjectId: string; decision: BankDecision }): Promise<PaymentOutcome> =>
      ledgerStep(() => steps.settleWithdrawal(deps.pool, request)),

    /** Ends a transaction with no money moved (voiding any hold). */
    endTransaction: (request: { transactionId: string; status: 'FAILED' | 'EXPIRED'; failureCode: string }): Promise<PaymentOutcome> =>
      ledgerStep(() => steps.endTransaction(deps.pool, request)),

    /** The bank's final word on an on-ramp that ended without credit, so the reconciler does not ask again. */
    async recordBankFinal({ transactionId, bankStatus }: { transactionId: string; bankStatus: 'failed' | 'canceled' | 'missing' | 'succeeded' }): Promise<void> {
      await deps.pool.query(`SELECT zp_record_bank_final($1, $2)`, [transactionId, bankStatus]);
    },

    /** Claims the bank denied, malformed signals, things for an operator: the security event log. */
    async recordSecurityEvents(events: SecurityEvent[]): Promise<void> {
      for (const event of events) await recordSecurityEvent(deps.pool, event);
    },

    /** The user and state of a transaction, for decisions in reconciliation. */
    async describeTransaction({ transactionId }: PaymentWorkflowInput): Promise<TransactionSummary | null> {
      const transaction = await findTransaction(deps.pool, transactionId);
      if (!transaction) return null;
      const refund = (await steps.findRefunds(deps.pool, [transactionId])).get(transactionId) ?? null;
      return {
        transactionId,
        kind: transaction.kind,
        status: transaction.status,
        userId: transaction.userId,
        amount: String(transaction.amount),
        bankObjectId: transaction.bankPaymentId,
        refundStatus: refund?.status ?? null,
      };
    },

    /** Refunds at the bank the payment of an on-ramp that ended without credit (reference: refund-<id>). */
    async requestRefund(request: PaymentWorkflowInput & { bankObjectId: string; reason: string }): Promise<steps.RefundStatus | 'unavailable'> {
      const { transactionId, bankObjectId, reason } = request;
      const transaction = await loadTransaction(deps.pool, transactionId, 'ON_RAMP');
      try {
        const refund = await atBank(deps, () =>
          deps.bank.createRefund({ payment: bankObjectId, amount: String(transaction.amount), reference: refundReference(transactionId) }),
        );
        return (await steps.recordRefund(deps.pool, {
          transactionId,
          bankPaymentId: bankObjectId,
          bankRefundId: refund.id,
          status: refundStatus(refund.status),
          reason,
        })).status;
      } catch (error) {
        if (failureType(error) === bankErrorTypes.unavailable) return 'unavailable';
        throw error;
      }
    },

    /** Asks the bank how a refund stands and records it (the refund webhook is only a prompt). */
    async confirmRefund({ transactionId }: PaymentWorkflowInput): Promise<steps.RefundStatus | 'unavailable'> {
      const transaction = await loadTransaction(deps.pool, transactionId, 'ON_RAMP');
      try {
        const refund = await atBank(deps, () => deps.bank.findRefund(refundReference(transactionId)));
        if (!refund) return 'requested';
        return (await steps.recordRefund(deps.pool, {
          transactionId,
          bankPaymentId: transaction.bankPaymentId!,
          bankRefundId: refund.id,
          status: refundStatus(refund.status),
          reason: 'confirmed with the bank',
        })).status;
      } catch (error) {
        if (failureType(error) === bankErrorTypes.unavailable) return 'unavailable';
        throw error;
      }
    },
  };
}

export interface TransactionSummary {
  transactionId: string;
  kind: TransactionRow['kind'];
  status: TransactionRow['status'];
  userId: string;
  amount: string;
  bankObjectId: string | null;
  refundStatus: steps.RefundStatus | null;
}

export const refundReference = (transactionId: string): string => `refund-${transactionId}`;

function refundStatus(status: BankObjectStatus): steps.RefundStatus {
  return status === 'succeeded' || status === 'failed' ? status : 'pending';
}

export type { BankObjectKind };
