// The direct-sql baseline: the classic ledger this field started from, in its own schema of the same
// database. One PostgreSQL transaction per transfer: lock both rows in id order, check, update, insert.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool, withTransaction, type Pool } from '../db/pool';
import { fundingAmountMinor } from './users';

export const directSchema = 'bench_direct';

/** Accounts 1..users are the users' wallets (in the users' order); these follow them. */
export interface DirectAccounts {
  walletIds: bigint[];
  merchantId: bigint;
  /** One clearing account per bank, debited by an on-ramp (it may go below zero, like a bank's). */
  clearingIds: Map<string, bigint>;
}

export async function createDirectLedger(pool: Pool, users: number, banks: readonly string[]): Promise<DirectAccounts> {
  await pool.query(`DROP SCHEMA IF EXISTS ${directSchema} CASCADE`);
  await pool.query(`CREATE SCHEMA ${directSchema}`);
  await pool.query(`CREATE TABLE ${directSchema}.accounts (
    id bigint PRIMARY KEY,
    balance bigint NOT NULL,
    may_go_negative boolean NOT NULL)`);
  await pool.query(`CREATE TABLE ${directSchema}.transfers (
    id uuid PRIMARY KEY,
    debit_account_id bigint NOT NULL REFERENCES ${directSchema}.accounts (id),
    credit_account_id bigint NOT NULL REFERENCES ${directSchema}.accounts (id),
    amount bigint NOT NULL CHECK (amount > 0),
    created_at timestamptz NOT NULL DEFAULT now())`);
  const walletIds = Array.from({ length: users }, (_, index) => BigInt(index + 1));
  const merchantId = BigInt(users + 1);
  const clearingIds = new Map(banks.map((bank, index) => [bank, BigInt(users + 2 + index)]));
  await pool.query(
    `INSERT INTO ${directSchema}.accounts (id, balance, may_go_negative)
     SELECT id, $2, false FROM unnest($1::bigint[]) AS id`,
    [[...walletIds, merchantId].map(String), String(fundingAmountMinor)],
  );
  await pool.query(
    `INSERT INTO ${directSchema}.accounts (id, balance, may_go_negative) SELECT id, 0, true FROM unnest($1::bigint[]) AS id`,
    [[...clearingIds.values()].map(String)],
  );
  return { walletIds, merchantId, clearingIds };
}

export async function dropDirectLedger(pool: Pool): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${directSchema} CASCADE`);
}

/** A business refusal of the baseline (the database's own errors keep their SQLSTATE). */
export class DirectRefusal extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Moves `amount` from one account to another in one transaction; throws pg errors as they come. */
export async function directTransfer(pool: Pool, debitAccountId: bigint, creditAccountId: bigint, amount: bigint): Promise<void> {
  await withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: bigint; balance: bigint; may_go_negative: boolean }>(
      `SELECT id, balance, may_go_negative FROM ${directSchema}.accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
      [[String(debitAccountId), String(creditAccountId)]],
    );
    const debit = rows.find((row) => row.id === debitAccountId);
    if (!debit || !rows.some((row) => row.id === creditAccountId)) throw new DirectRefusal('ACCOUNT_NOT_FOUND');
    if (!debit.may_go_negative && debit.balance < amount) throw new DirectRefusal('INSUFFICIENT_FUNDS');
    await client.query(`UPDATE ${directSchema}.accounts SET balance = balance - $2 WHERE id = $1`, [String(debitAccountId), String(amount)]);
    await client.query(`UPDATE ${directSchema}.accounts SET balance = balance + $2 WHERE id = $1`, [String(creditAccountId), String(amount)]);
    await client.query(`INSERT INTO ${directSchema}.transfers (id, debit_account_id, credit_account_id, amount) VALUES ($1, $2, $3, $4)`, [
      randomUUID(),
      String(debitAccountId),
      String(creditAccountId),
      String(amount),
    ]);
  });
}

/** The code a client would see for a failed baseline transfer: ours, or PostgreSQL's SQLSTATE by name. */
export function directErrorCode(error: unknown): string {
  if (error instanceof DirectRefusal) return error.code;
  const code = (error as pg.DatabaseError).code;
  if (!code) return 'DIRECT_ERROR';
  const named: Record<string, string> = {
    '40P01': 'DEADLOCK_DETECTED',
    '40001': 'SERIALIZATION_FAILURE',
    '55P03': 'LOCK_NOT_AVAILABLE',
    '57014': 'QUERY_CANCELED_TIMEOUT',
  };
  // PostgreSQL's SQLSTATEs are five characters; anything else is a socket error such as ECONNRESET.
  return named[code] ?? (/^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE_${code}` : code);
}

export function createDirectPool(databaseUrl: string, connectionsMax: number): Pool {
  return createPool({ connectionString: databaseUrl, max: connectionsMax, applicationName: 'zenpay-bench-direct' });
}
