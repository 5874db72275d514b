// What happened to a transaction after it ended, as its parties see it: an operator's reversal of a
// transfer (with the debt left, if any) and the refund of an on-ramp. Loaded in batches per request.
import DataLoader from 'dataloader';
import type { Pool } from '../db/pool';
import type { TransactionRow } from '../db/transactions';

export interface ReversalView {
  amount: bigint;
  returned: bigint;
  owed: bigint;
  reversedAt: Date;
}

export interface RefundView {
  status: 'REQUESTED' | 'PENDING' | 'SUCCEEDED' | 'FAILED';
  amount: bigint;
  updatedAt: Date;
}

interface Loaders {
  reversals: DataLoader<string, ReversalView | null>;
  refunds: DataLoader<string, RefundView | null>;
}

// One set of loaders per request context (a subscription's context lives as long as its socket, so
// it must not cache: its loaders are cleared after each batch).
const loadersByContext = new WeakMap<object, Loaders>();

function loadersFor(context: object, pool: Pool): Loaders {
  let loaders = loadersByContext.get(context);
  if (!loaders) {
    loaders = {
      reversals: new DataLoader(async (ids: readonly string[]) => {
        const { rows } = await pool.query<ReversalView & { transactionId: string }>(
          `SELECT v.transaction_id AS "transactionId", v.amount, v.recovered + coalesce(d.settled, 0) AS returned,
                  coalesce(d.amount - d.settled, 0) AS owed, v.created_at AS "reversedAt"
           FROM transfer_reversals v LEFT JOIN user_debts d ON d.transaction_id = v.transaction_id
           WHERE v.transaction_id = ANY($1::uuid[])`,
          [ids],
        );
        return ids.map((id) => rows.find((row) => row.transactionId === id) ?? null);
      }, { cache: false }),
      refunds: new DataLoader(async (ids: readonly string[]) => {
        const { rows } = await pool.query<RefundView & { transactionId: string }>(
          `SELECT transaction_id AS "transactionId", upper(status) AS status, amount, updated_at AS "updatedAt"
           FROM bank_refunds WHERE transaction_id = ANY($1::uuid[])`,
          [ids],
        );
        return ids.map((id) => rows.find((row) => row.transactionId === id) ?? null);
      }, { cache: false }),
    };
    loadersByContext.set(context, loaders);
  }
  return loaders;
}

export const transactionAftermathResolvers = {
  reversal: (transaction: TransactionRow, _: unknown, context: { deps: { pool: Pool } }) =>
    transaction.kind === 'TRANSFER' && transaction.status === 'COMPLETED' ? loadersFor(context, context.deps.pool).reversals.load(transaction.id) : null,
  refund: (transaction: TransactionRow, _: unknown, context: { deps: { pool: Pool } }) =>
    transaction.kind === 'ON_RAMP' ? loadersFor(context, context.deps.pool).refunds.load(transaction.id) : null,
};
