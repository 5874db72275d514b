// Assertions on the ledger shared by test files: the audit must be clean.
import { auditLedger } from '../db/audit';
import type { Queryable } from '../db/pool';

export async function expectCleanLedger(db: Queryable, options: { heldAllowed?: boolean } = {}): Promise<void> {
  const audit = await auditLedger(db);
  expect(audit.postedSum).toBe(0n);
  expect(audit.pendingSum).toBe(0n);
  expect(audit.mismatchedAccounts).toEqual([]);
  expect(audit.negativeWallets).toEqual([]);
  if (!options.heldAllowed) expect(audit.heldTotal).toBe(0n);
}
