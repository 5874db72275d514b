// All activities, built from their dependencies so that tests and tools can hand in their own.
import type { Logger } from '../common/log';
import type { Pool } from '../db/pool';
import type { PaymentWorkflowInput } from '../common/transactions';
import { BankClient } from './bank-client';
import { createBankActivities } from './bank-payments';
import { createConfirmationActivities } from './confirmation';
import { createOperatorActionActivities } from './operator-actions';
import { createReconcilerActivities, type ReconcilerDependencies } from './reconciler';
import { createReviewActivities } from './review';
import { createScheduledPaymentActivities } from './scheduled-payments';
import type { FraudPolicy } from '../api/fraud';
import { createStatementActivities } from './statement';
import { postTransfer } from './transfer';

export interface ActivityDependencies {
  pool: Pool;
  log: Logger;
  bank: BankClient;
  /** How long a payment waits for the bank's webhook before asking the bank's status API. */
  bankDecisionTimeoutMs: number;
  /** A bank unreachable this long ends a payment BANK_UNAVAILABLE. */
  bankUnavailableAfterMs: number;
  /** The reconciler's Temporal client, task queue and thresholds. */
  reconciler: Omit<ReconcilerDependencies, 'pool'>;
  /** Where the bank sends the browser back after an on-ramp (the web app); none: the bank's own page. */
  webAppUrl?: string;
  /** Limits and fraud rules for scheduled payments' runs (the API's, for sendMoney). */
  fraud: FraudPolicy;
}

export function createActivities({ pool, bank, bankDecisionTimeoutMs, bankUnavailableAfterMs, reconciler, webAppUrl, fraud }: ActivityDependencies) {
  return {
    postTransfer: (input: PaymentWorkflowInput) => postTransfer(pool, input),
    ...createBankActivities({ pool, bank, decisionTimeoutMs: bankDecisionTimeoutMs, unavailableAfterMs: bankUnavailableAfterMs, webAppUrl }),
    ...createReconcilerActivities({ pool, ...reconciler }),
    ...createStatementActivities({ pool, bank }),
    ...createConfirmationActivities({ pool }),
    ...createReviewActivities({ pool }),
    ...createOperatorActionActivities({ pool, bank, client: reconciler.client, taskQueue: reconciler.taskQueue }),
    ...createScheduledPaymentActivities({ pool, client: reconciler.client, taskQueue: reconciler.taskQueue, fraud }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
