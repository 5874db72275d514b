// All activities, built from their dependencies so that tests and tools can hand in their own.
import type { Logger } from '../common/log';
import type { Pool } from '../db/pool';
import type { PaymentWorkflowInput } from '../common/transactions';
import { BankClient } from './bank-client';
import { createBankActivities } from './bank-payments';
import { postTransfer } from './transfer';

export interface ActivityDependencies {
  pool: Pool;
  log: Logger;
  bank: BankClient;
  /** How long a payment waits for the bank's webhook before asking the bank's status API. */
  bankDecisionTimeoutMs: number;
}

export function createActivities({ pool, bank, bankDecisionTimeoutMs }: ActivityDependencies) {
  return {
    postTransfer: (input: PaymentWorkflowInput) => postTransfer(pool, input),
    ...createBankActivities({ pool, bank, decisionTimeoutMs: bankDecisionTimeoutMs }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
