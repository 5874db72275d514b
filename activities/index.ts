// All activities, built from their dependencies so that tests and tools can hand in their own.
import type { Logger } from '../common/log';
import type { Pool } from '../db/pool';
import type { PaymentWorkflowInput } from '../common/transactions';
import { postTransfer } from './transfer';

export interface ActivityDependencies {
  pool: Pool;
  log: Logger;
}

export function createActivities({ pool }: ActivityDependencies) {
  return {
    postTransfer: (input: PaymentWorkflowInput) => postTransfer(pool, input),
  };
}

export type Activities = ReturnType<typeof createActivities>;
