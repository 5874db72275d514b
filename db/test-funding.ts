// Seed money for tests and benchmarks: a credit to a wallet from the `test_funding` system account,
// through the ledger like any other movement. No public API reaches this module.
import { randomUUID } from 'node:crypto';
import { createTransfer, systemAccountId, walletAccountId } from './ledger';
import { withTransaction, type Pool } from './pool';
import { appendWalletEvents } from './transactions';

export async function fundWalletForTesting(pool: Pool, userId: string, amount: bigint, transferId: string = randomUUID()): Promise<void> {
  await withTransaction(pool, async (client) => {
    const source = await systemAccountId(client, 'test_funding', 'INR');
    const target = await walletAccountId(client, userId);
    const result = await createTransfer(client, {
      id: transferId,
      kind: 'posted',
      debitAccountId: source,
      creditAccountId: target,
      amount,
      transactionId: null,
    });
    if (result !== 'created' && result !== 'exists') throw new Error(`funding failed: ${result}`);
    if (result === 'created') await appendWalletEvents(client, [userId], null);
  });
}
