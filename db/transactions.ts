// Business transactions (TRANSFER, ON_RAMP, OFF_RAMP): the rows users see, their status changes and
// the outbox events each change writes in the same PostgreSQL transaction.
import type { TransactionKind, TransactionStatus } from '../common/transactions';
import { appendEvents } from './events';
import type { PoolClient, Queryable } from './pool';

export interface TransactionRow {
  id: string;
  seq: bigint;
  kind: TransactionKind;
  status: TransactionStatus;
  userId: string;
  counterpartyUserId: string | null;
  amount: bigint;
  currency: 'INR';
  note: string | null;
  idempotencyKey: string;
  requestFingerprint: Buffer;
  failureCode: string | null;
  bank: string | null;
  bankAccount: string | null;
  bankPaymentId: string | null;
  bankRedirectUrl: string | null;
  bankDeadlineAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const transactionColumns = `id, seq, kind, status, user_id AS "userId", counterparty_user_id AS "counterpartyUserId",
  amount, currency, note, idempotency_key AS "idempotencyKey", request_fingerprint AS "requestFingerprint",
  failure_code AS "failureCode", bank, bank_account AS "bankAccount", bank_payment_id AS "bankPaymentId",
  bank_redirect_url AS "bankRedirectUrl", bank_deadline_at AS "bankDeadlineAt",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewTransaction {
  id: string;
  kind: TransactionKind;
  userId: string;
  counterpartyUserId: string | null;
  amount: bigint;
  note: string | null;
  idempotencyKey: string;
  requestFingerprint: Buffer;
  bank: string | null;
  bankAccount: string | null;
  /** Set when the payment must wait for its user's second factor (AWAITING_CONFIRMATION). */
  confirmation?: NewChallenge | null;
  /** The limits to check it against (limitsForDatabase as JSON), or null: none. */
  limits?: string | null;
  /** Its fraud decision ({score, rules, review, timeoutSeconds, clientAddress}), or null: not scored. */
  decision?: object | null;
}

export interface NewChallenge {
  method: 'TOTP' | 'SMS';
  /** SMS: HMAC of "<transaction id>:<code>" under the code key. */
  codeHash: Buffer | null;
  withinSeconds: number;
  attemptsMax: number;
}

/**
 * Inserts a transaction (PENDING, AWAITING_CONFIRMATION with its challenge, or IN_REVIEW with its
 * fraud decision and a transfer's hold) with its first events after checking its user's limits under a
 * per-user lock (zp_submit_checked_payment; over a limit it raises SQLSTATE ZP001), or finds the one the
 * same user made earlier with the same idempotency key (created: false). The caller compares
 * fingerprints. One round trip.
 */
export async function submitTransaction(db: Queryable, input: NewTransaction): Promise<{ transaction: TransactionRow; created: boolean }> {
  const { rows } = await db.query<TransactionRow>(
    `SELECT ${transactionColumns} FROM zp_submit_checked_payment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16::jsonb)`,
    [
      input.id,
      input.kind,
      input.userId,
      input.counterpartyUserId,
      String(input.amount),
      input.note,
      input.idempotencyKey,
      input.requestFingerprint,
      input.bank,
      input.bankAccount,
      input.confirmation?.method ?? null,
      input.confirmation?.codeHash ?? null,
      input.confirmation?.withinSeconds ?? null,
      input.confirmation?.attemptsMax ?? null,
      input.limits ?? null,
      input.decision ? JSON.stringify(input.decision) : null,
    ],
  );
  const transaction = rows[0];
  if (!transaction) throw new Error('zp_submit_payment returned no row');
  return { transaction, created: transaction.id === input.id };
}

export async function findTransaction(db: Queryable, id: string): Promise<TransactionRow | null> {
  const { rows } = await db.query<TransactionRow>(`SELECT ${transactionColumns} FROM transactions WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findTransactions(db: Queryable, ids: readonly string[]): Promise<Map<string, TransactionRow>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<TransactionRow>(`SELECT ${transactionColumns} FROM transactions WHERE id = ANY($1::uuid[])`, [[...new Set(ids)]]);
  return new Map(rows.map((row) => [row.id, row]));
}

export function transactionParties(transaction: TransactionRow): string[] {
  return transaction.counterpartyUserId ? [transaction.userId, transaction.counterpartyUserId] : [transaction.userId];
}

/** Appends a wallet event (current balance) for each user, naming the transaction that changed it. */
export async function appendWalletEvents(client: PoolClient, userIds: readonly string[], transactionId: string | null): Promise<void> {
  await appendEvents(client, transactionId, [], userIds);
}

export interface TransactionPageRequest {
  viewerId: string;
  first: number;
  afterSeq: bigint | null;
  kind: TransactionKind | null;
  status: TransactionStatus | null;
}

/**
 * The viewer's transactions, newest first, by keyset on seq; fetches one extra row to tell hasNextPage.
 * A recipient sees a TRANSFER only once money moved (COMPLETED), never the sender's other attempts.
 */
export async function listTransactionsForViewer(
  db: Queryable,
  request: TransactionPageRequest,
): Promise<{ transactions: TransactionRow[]; hasNextPage: boolean }> {
  const { rows } = await db.query<TransactionRow>(
    `SELECT ${transactionColumns} FROM (
       (SELECT * FROM transactions WHERE user_id = $1 AND ($2::bigint IS NULL OR seq < $2)
          AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR status = $4) ORDER BY seq DESC LIMIT $5)
       UNION ALL
       (SELECT * FROM transactions WHERE counterparty_user_id = $1 AND status = 'COMPLETED' AND ($2::bigint IS NULL OR seq < $2)
          AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR status = $4) ORDER BY seq DESC LIMIT $5)
     ) AS mine ORDER BY seq DESC LIMIT $5`,
    [
      request.viewerId,
      request.afterSeq === null ? null : String(request.afterSeq),
      request.kind,
      request.status,
      request.first + 1,
    ],
  );
  return { transactions: rows.slice(0, request.first), hasNextPage: rows.length > request.first };
}

/**
 * Transactions still PENDING after a while: the sweeper makes sure each has its workflow. (One in
 * AWAITING_BANK got there through its workflow, so it has one.)
 */
export async function findStalePending(db: Queryable, olderThan: Date, limit: number): Promise<TransactionRow[]> {
  const { rows } = await db.query<TransactionRow>(
    `SELECT ${transactionColumns} FROM transactions WHERE status = 'PENDING' AND created_at < $1
     ORDER BY created_at LIMIT $2`,
    [olderThan, limit],
  );
  return rows;
}
