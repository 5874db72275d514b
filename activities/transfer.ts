// The ledger step of a P2P transfer: one PostgreSQL transaction that moves the money (or records
// why not), changes the transaction's status and writes the outbox events, all or nothing.
import { ApplicationFailure } from '@temporalio/common';
import { failureCodes } from '../common/errors';
import { isFinalStatus, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import { createTransfer, ledgerTransferId } from '../db/ledger';
import { withTransaction, type Pool } from '../db/pool';
import {
  appendWalletEvents,
  changeTransactionStatus,
  lockTransaction,
  type TransactionRow,
} from '../db/transactions';

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

/**
 * Posts a TRANSFER. Retried after a crash it finds the transaction already final and returns that
 * outcome; the ledger transfer id derives from the transaction id, so money moves at most once.
 */
export async function postTransfer(pool: Pool, input: PaymentWorkflowInput): Promise<PaymentOutcome> {
  return withTransaction(pool, async (client) => {
    const transaction = await lockTransaction(client, input.transactionId);
    if (transaction.kind !== 'TRANSFER') {
      throw ApplicationFailure.nonRetryable(`transaction ${transaction.id} is a ${transaction.kind}`, 'WRONG_KIND');
    }
    if (isFinalStatus(transaction.status)) return outcomeOf(transaction);

    const parties = [transaction.userId, transaction.counterpartyUserId!];
    const [sourceAccountId, targetAccountId] = await walletAccountIds(client, parties);
    const result = await createTransfer(client, {
      id: ledgerTransferId(transaction.id, 'transfer'),
      kind: 'posted',
      debitAccountId: sourceAccountId,
      creditAccountId: targetAccountId,
      amount: transaction.amount,
      transactionId: transaction.id,
    });
    if (result === 'created' || result === 'exists') {
      const completed = await changeTransactionStatus(client, transaction, { status: 'COMPLETED' });
      await appendWalletEvents(client, parties, transaction.id);
      return outcomeOf(completed);
    }
    if (result === 'exceeds_credits') {
      const failed = await changeTransactionStatus(client, transaction, {
        status: 'FAILED',
        failureCode: failureCodes.insufficientFunds,
      });
      return outcomeOf(failed);
    }
    throw ApplicationFailure.nonRetryable(`unexpected ledger result ${result} for ${transaction.id}`, 'LEDGER_BUG');
  });
}
