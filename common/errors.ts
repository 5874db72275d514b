// One hierarchy of expected (operational) errors, each with a code from the public contract.
// Anything that is not an AppError is a bug or an outage and is masked at the API edge.

export const errorCodes = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'RATE_LIMITED',
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
} as const;
export type FailureCode = (typeof failureCodes)[keyof typeof failureCodes];
