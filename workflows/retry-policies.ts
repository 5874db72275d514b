// Retry policies chosen on purpose. Business outcomes are results, not errors; only infrastructure
// failures (database or bank unreachable, 5xx) are retried, with backoff and no attempt limit,
// because giving up would leave money in limbo. Errors that retrying cannot fix are listed.
import type { RetryPolicy } from '@temporalio/common';

const bugs = ['WRONG_KIND', 'MISSING_WALLET', 'MISSING_TRANSACTION', 'LEDGER_BUG'];

export const ledgerRetry: RetryPolicy = {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  nonRetryableErrorTypes: bugs,
};

export const bankRetry: RetryPolicy = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: [...bugs, 'BANK_REJECTED'],
};
