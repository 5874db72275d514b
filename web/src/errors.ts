// Every error shown in words a person understands, chosen by the API's extensions.code (never its
// internal message for unexpected errors) and by failureCode for payments that ended without moving money.
import type { CombinedError } from '@urql/core';
import { formatRupees } from './money';

export interface ApiErrorLike {
  message: string;
  extensions?: Record<string, unknown>;
}

const fieldNames: Record<string, string> = {
  phone: 'phone number', toPhone: 'phone number', amount: 'amount', code: 'code', name: 'name', password: 'password',
  note: 'note', bankAccount: 'account number', bank: 'bank', currentPassword: 'current password', newPassword: 'new password',
};

function minutes(seconds: number): string {
  if (seconds < 60) return `${seconds} seconds`;
  const value = Math.ceil(seconds / 60);
  return value === 1 ? 'a minute' : `${value} minutes`;
}

/** One sentence for one GraphQL error. `context` tunes UNAUTHENTICATED (a failed sign-in is not an ended session). */
export function describeApiError(error: ApiErrorLike, context: 'sign-in' | 'default' = 'default'): string {
  const code = String(error.extensions?.code ?? '');
  switch (code) {
    case 'UNAUTHENTICATED':
      return context === 'sign-in' ? 'That phone number and password do not match. Check them and try again.' : 'Your session has ended. Please sign in again.';
    case 'FORBIDDEN':
      return 'You are not allowed to do that.';
    case 'NOT_FOUND':
      return 'We could not find that. It may have ended or belong to someone else.';
    case 'LIMIT_EXCEEDED': {
      // The amounts come in paise: shown as rupees, never as the API's internal message.
      const left = typeof error.extensions?.limitMinor === 'string' && typeof error.extensions?.usedMinor === 'string'
        ? BigInt(error.extensions.limitMinor) - BigInt(error.extensions.usedMinor) : null;
      const limit = String(error.extensions?.limit ?? 'payment').replace(/_/g, ' ').toLowerCase();
      return `This payment is over your ${limit} limit${left !== null && left > 0n ? `: you can still pay up to ${formatRupees(left)}` : ''}.`;
    }
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'This payment was already sent with other details. Start a new payment.';
    case 'RATE_LIMITED': {
      const retry = Number(error.extensions?.retryAfterSeconds ?? 60);
      return `Too many attempts. Please wait ${minutes(Number.isFinite(retry) ? retry : 60)} and try again.`;
    }
    case 'BAD_USER_INPUT': {
      if (error.extensions?.reason === 'CONFIRMATION_EXPIRED') return 'This confirmation has expired. Start the payment again.';
      const attemptsLeft = error.extensions?.attemptsLeft;
      if (error.extensions?.field === 'code' && typeof attemptsLeft === 'number') {
        return `That code is not right. ${attemptsLeft === 1 ? 'One try' : `${attemptsLeft} tries`} left.`;
      }
      // The API's input messages are written for people ("No ZenPAY user has this phone number").
      const field = fieldNames[String(error.extensions?.field ?? '')];
      return error.message ? error.message.replace(/\.?$/, '.') : `Check the ${field ?? 'details'} and try again.`;
    }
    default:
      return 'Something went wrong on our side. No money moved because of it; please try again in a moment.';
  }
}

/** For urql's CombinedError: network trouble or the first GraphQL error. */
export function describeError(error: CombinedError | undefined | null, context: 'sign-in' | 'default' = 'default'): string | null {
  if (!error) return null;
  const first = error.graphQLErrors[0];
  if (first) return describeApiError(first, context);
  return navigator.onLine ? 'We cannot reach ZenPAY right now. Please try again in a moment.' : 'You are offline. Connect to the internet and try again.';
}

const failureWords: Record<string, string> = {
  INSUFFICIENT_FUNDS: 'There was not enough money in your wallet.',
  BANK_DECLINED: 'The bank declined it.',
  BANK_TIMEOUT: 'The bank did not answer in time.',
  BANK_REJECTED: 'The bank refused it.',
  BANK_UNAVAILABLE: 'The bank could not be reached; any held money was released.',
  NOT_AT_BANK: 'It never reached the bank; nothing moved.',
  CONFIRMATION_FAILED: 'It was not confirmed: too many wrong codes.',
  CONFIRMATION_EXPIRED: 'It was not confirmed in time.',
  REVIEW_REJECTED: 'Our team reviewed it and stopped it; the held money was released.',
  REVIEW_TIMEOUT: 'It could not be reviewed in time; the held money was released.',
};

export const describeFailure = (failureCode: string | null | undefined): string =>
  (failureCode && failureWords[failureCode]) || 'It did not go through; no money moved.';
