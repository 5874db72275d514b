// The double-entry ledger: accounts with TigerBeetle-style balances and immutable transfers.
// All balance changes go through the SQL function ledger_create_transfer (one round trip, locks in
// ascending account id order, idempotent on the transfer id).
import { createHash } from 'node:crypto';
import type { Queryable } from './pool';

export type TransferKind = 'posted' | 'pending' | 'post_pending' | 'void_pending';
export type TransferResult =
  | 'created'
  | 'exists'
  | 'exceeds_credits'
  | 'pending_not_found'
  | 'pending_already_resolved';

export interface AccountBalances {
  id: bigint;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  updatedAt: Date;
}

export interface WalletBalance {
  accountId: bigint;
  available: bigint;
  held: bigint;
  updatedAt: Date;
}

/** A wallet's spendable amount: what was credited, less what was debited or is held. */
export function walletBalance(account: AccountBalances): WalletBalance {
  return {
    accountId: account.id,
    available: account.creditsPosted - account.debitsPosted - account.debitsPending,
    held: account.debitsPending,
    updatedAt: account.updatedAt,
  };
}

/**
 * Ledger transfer ids derive from the business transaction id and the leg's name, so a retried
 * activity always writes the same id and can never move money twice.
 */
export function ledgerTransferId(transactionId: string, leg: 'transfer' | 'credit' | 'hold' | 'post' | 'void' | string): string {
  const digest = createHash('sha256').update(`zenpay-ledger:${transactionId}:${leg}`).digest();
  // Shape the digest as an RFC 9562 version 8 (custom) UUID.
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Opens a new user's wallet account and event stream (zp_open_wallet: the app role cannot insert accounts). */
export async function openWallet(db: Queryable, userId: string): Promise<bigint> {
  const { rows } = await db.query<{ id: bigint }>(`SELECT zp_open_wallet($1) AS id`, [userId]);
  return rows[0]!.id;
}

/**
 * Returns the id of a system account (e.g. a bank's clearing account), creating it on first use.
 * Needs the owner's rights: only test funding and tools call it; the engine's steps use zp_clearing_account.
 */
export async function systemAccountId(db: Queryable, kind: 'bank_clearing' | 'test_funding', name: string): Promise<bigint> {
  const code = `${kind}:${name}`;
  const { rows } = await db.query<{ id: bigint }>(
    `INSERT INTO ledger_accounts (kind, code, debits_must_not_exceed_credits)
     VALUES ($1, $2, false) ON CONFLICT (code) DO NOTHING RETURNING id`,
    [kind, code],
  );
  if (rows[0]) return rows[0].id;
  // Someone else created it first; its row is committed, so a new statement (a new snapshot) sees it.
  const existing = await db.query<{ id: bigint }>(`SELECT id FROM ledger_accounts WHERE code = $1`, [code]);
  if (!existing.rows[0]) throw new Error(`system account ${code} neither created nor found`);
  return existing.rows[0].id;
}

export async function walletAccountId(db: Queryable, userId: string): Promise<bigint> {
  const { rows } = await db.query<{ id: bigint }>(`SELECT id FROM ledger_accounts WHERE user_id = $1`, [userId]);
  if (rows.length !== 1) throw new Error(`user ${userId} has no wallet account`);
  return rows[0]!.id;
}

export interface TransferRequest {
  id: string;
  kind: TransferKind;
  debitAccountId?: bigint;
  creditAccountId?: bigint;
  amount?: bigint;
  pendingId?: string;
  transactionId: string | null;
}

export async function createTransfer(db: Queryable, request: TransferRequest): Promise<TransferResult> {
  if (request.kind === 'posted' || request.kind === 'pending') {
    if (request.amount === undefined || request.amount <= 0n) throw new Error('a transfer amount must be > 0');
    if (request.debitAccountId === undefined || request.creditAccountId === undefined) {
      throw new Error('a transfer needs a debit and a credit account');
    }
  } else if (!request.pendingId) {
    throw new Error(`a ${request.kind} transfer needs pendingId`);
  }
  const { rows } = await db.query<{ result: TransferResult }>(
    `SELECT ledger_create_transfer($1, $2, $3, $4, $5, $6, $7) AS result`,
    [
      request.id,
      request.kind,
      request.debitAccountId ?? null,
      request.creditAccountId ?? null,
      request.amount ?? null,
      request.pendingId ?? null,
      request.transactionId,
    ],
  );
  return rows[0]!.result;
}

const balanceColumns = `id, debits_pending AS "debitsPending", debits_posted AS "debitsPosted",
  credits_pending AS "creditsPending", credits_posted AS "creditsPosted", updated_at AS "updatedAt"`;

export async function accountBalances(db: Queryable, accountIds: readonly bigint[]): Promise<AccountBalances[]> {
  const { rows } = await db.query<AccountBalances>(
    `SELECT ${balanceColumns} FROM ledger_accounts WHERE id = ANY($1::bigint[]) ORDER BY id`,
    [accountIds.map(String)],
  );
  return rows;
}

export async function userWallet(db: Queryable, userId: string): Promise<WalletBalance> {
  const { rows } = await db.query<AccountBalances>(`SELECT ${balanceColumns} FROM ledger_accounts WHERE user_id = $1`, [
    userId,
  ]);
  if (rows.length !== 1) throw new Error(`user ${userId} has no wallet account`);
  return walletBalance(rows[0]!);
}
