// The ledger step of a P2P transfer: one PostgreSQL function call that moves the money (or records
// why not), changes the transaction's status and writes the outbox events, all or nothing.
import { ApplicationFailure } from '@temporalio/common';
import type { PaymentOutcome, PaymentWorkflowInput } from '../common/transactions';
import { ledgerTransferId } from '../db/ledger';
import type { Pool } from '../db/pool';
import type { TransactionRow } from '../db/transactions';

export const outcomeOf = (transaction: TransactionRow): PaymentOutcome => ({
  transactionId: transaction.id,
  status: transaction.status,
  failureCode: transaction.failureCode,
});

export async function walletAccountIds(pool: Pick<Pool, 'query'>, userIds: readonly string[]): Promise<bigint[]> {
  const { rows } = await pool.query<{ id: bigint; user_id: string }>(
    `SELECT id, user_id FROM ledger_accounts WHERE user_id = ANY($1::uuid[])`,
    [userIds],
  );
  return userIds.map((userId) => {
    const row = rows.find((candidate) => candidate.user_id === userId);
    if (!row) throw ApplicationFailure.nonRetryable(`user ${userId} has no wallet`, 'MISSING_WALLET');
    return row.id;
  });
}

/** SQLSTATEs the ledger step functions raise for errors that no retry can fix. */
const bugsBySqlState: Record<string, string> = {
  P0002: 'MISSING_TRANSACTION', // no_data_found
  '42809': 'WRONG_KIND', // wrong_object_type
  XX000: 'LEDGER_BUG', // internal_error
  '23514': 'LEDGER_BUG', // check_violation: a step asked of the wrong object or amount
  '23001': 'LEDGER_BUG', // restrict_violation: e.g. leaving a final status
};

/** Runs a ledger step; a database error no retry can fix becomes a non-retryable failure of its own type. */
export async function ledgerStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const type = bugsBySqlState[(error as { code?: string }).code ?? ''];
    if (type) throw ApplicationFailure.nonRetryable((error as Error).message, type);
    throw error;
  }
}

/**
 * Posts a TRANSFER: one call of zp_post_transfer, which locks the transaction, moves the money (or
 * records INSUFFICIENT_FUNDS), sets the status and writes both sides' events, all in one round trip.
 * Retried after a crash it finds the transaction already final and returns that outcome; the ledger
 * transfer id derives from the transaction id, so money moves at most once.
 */
export async function postTransfer(pool: Pool, input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  return ledgerStep(async () => {
    const { rows } = await pool.query<{ outcome_status: PaymentOutcome['status']; outcome_failure_code: string | null }>(
      `SELECT outcome_status, outcome_failure_code FROM zp_post_transfer($1, $2)`,
      [input.transactionId, ledgerTransferId(input.transactionId, 'transfer')],
    );
    return { transactionId: input.transactionId, status: rows[0]!.outcome_status, failureCode: rows[0]!.outcome_failure_code };
  });
}
