// The ledger steps of on-ramps and off-ramps: each is one call of a SECURITY DEFINER function
// (db/migrations/1764460800001_one-way-to-write-money.sql) that locks the transaction, checks, moves
// money and records the status and events in one round trip. The app role has no other way to write
// money, and a retried step finds its own earlier effect.
import type { PaymentOutcome } from '../common/transactions';
import type { TransactionStatus } from '../common/transactions';
import { transactionColumns, type TransactionRow } from './transactions';
import type { Queryable } from './pool';

type OutcomeRow = { outcome_status: TransactionStatus; outcome_failure_code: string | null };

async function outcome(db: Queryable, transactionId: string, sql: string, values: unknown[]): Promise<PaymentOutcome> {
  const { rows } = await db.query<OutcomeRow>(sql, values);
  const row = rows[0]!;
  return { transactionId, status: row.outcome_status, failureCode: row.outcome_failure_code };
}

/** PENDING → AWAITING_BANK with the bank's object id, page and deadline; later calls return the row as it is. */
export async function recordAwaitingBank(
  db: Queryable,
  request: { transactionId: string; kind: 'ON_RAMP' | 'OFF_RAMP'; bankObjectId: string; redirectUrl: string | null; deadlineAt: Date },
): Promise<TransactionRow> {
  const { rows } = await db.query<TransactionRow>(
    `SELECT ${transactionColumns} FROM zp_record_awaiting_bank($1, $2, $3, $4, $5)`,
    [request.transactionId, request.kind, request.bankObjectId, request.redirectUrl, request.deadlineAt],
  );
  return rows[0]!;
}

/** Credits an on-ramp whose payment the bank confirmed (object and amount must be the transaction's own). */
export function creditOnRamp(db: Queryable, request: { transactionId: string; bankObjectId: string; amount: string }): Promise<PaymentOutcome> {
  return outcome(db, request.transactionId, `SELECT * FROM zp_credit_on_ramp($1, $2, $3)`, [request.transactionId, request.bankObjectId, request.amount]);
}

/** Holds a withdrawal's amount: PENDING when held, FAILED with INSUFFICIENT_FUNDS, or an earlier final status. */
export function holdWithdrawal(db: Queryable, transactionId: string): Promise<PaymentOutcome> {
  return outcome(db, transactionId, `SELECT * FROM zp_hold_withdrawal($1)`, [transactionId]);
}

/** Posts (succeeded) or voids (failed) a withdrawal's hold on the bank's confirmed word. */
export function settleWithdrawal(
  db: Queryable,
  request: { transactionId: string; bankObjectId: string; decision: 'succeeded' | 'failed' },
): Promise<PaymentOutcome> {
  return outcome(db, request.transactionId, `SELECT * FROM zp_settle_withdrawal($1, $2, $3)`, [
    request.transactionId,
    request.bankObjectId,
    request.decision,
  ]);
}

/** Ends a payment without moving money (FAILED or EXPIRED with a code), voiding any hold. */
export function endTransaction(
  db: Queryable,
  request: { transactionId: string; status: 'FAILED' | 'EXPIRED'; failureCode: string },
): Promise<PaymentOutcome> {
  return outcome(db, request.transactionId, `SELECT * FROM zp_end_transaction($1, $2, $3)`, [
    request.transactionId,
    request.status,
    request.failureCode,
  ]);
}

export type RefundStatus = 'requested' | 'pending' | 'succeeded' | 'failed';

export interface RefundRow {
  transactionId: string;
  bankPaymentId: string;
  bankRefundId: string | null;
  amount: bigint;
  status: RefundStatus;
  reason: string;
  updatedAt: Date;
}

const refundColumns = `transaction_id AS "transactionId", bank_payment_id AS "bankPaymentId", bank_refund_id AS "bankRefundId",
  amount, status, reason, updated_at AS "updatedAt"`;

/** Records (or advances) the refund of an on-ramp that ended without crediting money the bank took. */
export async function recordRefund(
  db: Queryable,
  request: { transactionId: string; bankPaymentId: string; bankRefundId: string | null; status: RefundStatus; reason: string },
): Promise<RefundRow> {
  const { rows } = await db.query<RefundRow>(`SELECT ${refundColumns} FROM zp_record_refund($1, $2, $3, $4, $5)`, [
    request.transactionId,
    request.bankPaymentId,
    request.bankRefundId,
    request.status,
    request.reason,
  ]);
  return rows[0]!;
}

export async function findRefunds(db: Queryable, transactionIds: readonly string[]): Promise<Map<string, RefundRow>> {
  if (transactionIds.length === 0) return new Map();
  const { rows } = await db.query<RefundRow>(`SELECT ${refundColumns} FROM bank_refunds WHERE transaction_id = ANY($1::uuid[])`, [
    [...new Set(transactionIds)],
  ]);
  return new Map(rows.map((row) => [row.transactionId, row]));
}
