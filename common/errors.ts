// One hierarchy of expected (operational) errors, each with a code from the public contract.
// Anything that is not an AppError is a bug or an outage and is masked at the API edge.

export const errorCodes = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'RATE_LIMITED',
  /** Extension: a payment over one of its user's limits (extensions: limit, limitMinor, usedMinor, amountMinor, tier). */
  'LIMIT_EXCEEDED',
  /** Extension (operator API): a review decided after its deadline; the payment was rejected for want of one (extensions: status). */
  'REVIEW_DEADLINE_PASSED',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badInput = (message: string, field?: string): AppError =>
  new AppError('BAD_USER_INPUT', message, field ? { field } : {});
export const unauthenticated = (message = 'Sign in first: a valid session token is required'): AppError =>
  new AppError('UNAUTHENTICATED', message);

/** Failure codes stored on FAILED and EXPIRED transactions. */
export const failureCodes = {
  insufficientFunds: 'INSUFFICIENT_FUNDS',
  bankDeclined: 'BANK_DECLINED',
  bankTimeout: 'BANK_TIMEOUT',
  bankRejected: 'BANK_REJECTED',
  /** The bank stayed unreachable past BANK_UNAVAILABLE_AFTER_MS; any hold was released. */
  bankUnavailable: 'BANK_UNAVAILABLE',
  /** The payment's processing stopped before the bank knew of it; the reconciler ended it. */
  notAtBank: 'NOT_AT_BANK',
  /** An operator rejected the payment in review; its hold was released. */
  reviewRejected: 'REVIEW_REJECTED',
  /** No operator decided by the review's deadline (REVIEW_TIMEOUT_MS); its hold was released. */
  reviewTimeout: 'REVIEW_TIMEOUT',
} as const;
export type FailureCode = (typeof failureCodes)[keyof typeof failureCodes];
