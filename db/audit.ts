// Checks of the ledger's promises, used by tests and the failure drill: money is never created or
// destroyed, balances agree with the transfers, no wallet is negative, and nothing is left held.
import type { Queryable } from './pool';

export interface LedgerAudit {
  /** Sum over all accounts of posted credits minus posted debits: always 0. */
  postedSum: bigint;
  /** The same for pending amounts: always 0. */
  pendingSum: bigint;
  /** Accounts whose balance fields disagree with their transfer rows. */
  mismatchedAccounts: bigint[];
  /** Wallets whose spendable balance is below zero. */
  negativeWallets: bigint[];
  /** Total held in pending transfers not yet posted or voided. */
  heldTotal: bigint;
  accountCount: number;
  transferCount: number;
}

export async function auditLedger(db: Queryable): Promise<LedgerAudit> {
  const { rows: sums } = await db.query<{ posted: bigint; pending: bigint; accounts: bigint; held: bigint }>(
    `SELECT COALESCE(sum(credits_posted - debits_posted), 0)::bigint AS posted,
            COALESCE(sum(credits_pending - debits_pending), 0)::bigint AS pending,
            count(*)::bigint AS accounts,
            COALESCE(sum(debits_pending) FILTER (WHERE kind = 'wallet'), 0)::bigint AS held
     FROM ledger_accounts`,
  );
  // Recompute every account's four balances from its transfers, the way TigerBeetle defines them.
  const { rows: mismatched } = await db.query<{ id: bigint }>(
    `WITH open_pending AS (
       SELECT p.* FROM ledger_transfers p
       WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)),
     posted AS (SELECT * FROM ledger_transfers WHERE kind IN ('posted', 'post_pending')),
     expected AS (
       SELECT a.id,
         COALESCE((SELECT sum(amount) FROM posted WHERE debit_account_id = a.id), 0) AS debits_posted,
         COALESCE((SELECT sum(amount) FROM posted WHERE credit_account_id = a.id), 0) AS credits_posted,
         COALESCE((SELECT sum(amount) FROM open_pending WHERE debit_account_id = a.id), 0) AS debits_pending,
         COALESCE((SELECT sum(amount) FROM open_pending WHERE credit_account_id = a.id), 0) AS credits_pending
       FROM ledger_accounts a)
     SELECT a.id FROM ledger_accounts a JOIN expected e ON e.id = a.id
     WHERE (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
        <> (e.debits_posted, e.credits_posted, e.debits_pending, e.credits_pending)`,
  );
  const { rows: negative } = await db.query<{ id: bigint }>(
    `SELECT id FROM ledger_accounts WHERE kind = 'wallet' AND credits_posted - debits_posted - debits_pending < 0`,
  );
  const { rows: transfers } = await db.query<{ count: bigint }>(`SELECT count(*)::bigint AS count FROM ledger_transfers`);
  return {
    postedSum: sums[0]!.posted,
    pendingSum: sums[0]!.pending,
    mismatchedAccounts: mismatched.map((row) => row.id),
    negativeWallets: negative.map((row) => row.id),
    heldTotal: sums[0]!.held,
    accountCount: Number(sums[0]!.accounts),
    transferCount: Number(transfers[0]!.count),
  };
}
