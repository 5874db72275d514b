// Payments, payouts and refunds as the simulated bank keeps them, the banks it plays, and the checks on new requests.
// HTTP never reaches this file: requests arrive as unknown values and leave as typed records or a BankError.
import { developmentBanks } from '../common/development';
import { z } from 'zod';
import { formatMoney, MoneyFormatError, parseMoneyInput } from '../common/money';
import { httpUrlSchema } from './config';

/** The banks the simulator plays. Anything else is answered 400 UNKNOWN_BANK. */
export const knownBanks = developmentBanks;
export type BankCode = (typeof knownBanks)[number];

export const supportedCurrency = 'INR';
export type Currency = typeof supportedCurrency;

export const referenceLengthMax = 255;
export const bankAccountLengthMax = 64;

export type Status = 'pending' | 'succeeded' | 'failed';
export type Outcome = Exclude<Status, 'pending'>;
/** A payment may also end canceled: the merchant called it off before anyone decided it. */
export type PaymentStatus = Status | 'canceled';
export const paymentStatuses: readonly PaymentStatus[] = ['pending', 'succeeded', 'failed', 'canceled'];

export interface Payment {
  id: string;
  reference: string;
  amountMinor: bigint;
  currency: Currency;
  bank: BankCode;
  returnUrl: string | null;
  status: PaymentStatus;
  createdAt: string;
  /** When the payment succeeded, failed or was canceled. */
  decidedAt: string | null;
  /** Epoch ms at which the bank approves or declines by itself; null waits for a person. */
  autoDecideAt: number | null;
}

export interface Payout {
  id: string;
  reference: string;
  amountMinor: bigint;
  currency: Currency;
  bank: BankCode;
  bankAccount: string;
  status: Status;
  createdAt: string;
  decidedAt: string | null;
  /** Epoch ms at which the payout settles by itself. */
  settleAt: number;
}

/** Money returned to the payer of a succeeded payment, in whole or in part; settles by itself like a payout. */
export interface Refund {
  id: string;
  reference: string;
  paymentId: string;
  amountMinor: bigint;
  currency: Currency;
  status: Status;
  createdAt: string;
  decidedAt: string | null;
  /** Epoch ms at which the refund settles by itself. */
  settleAt: number;
}

export type BankErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_AMOUNT'
  | 'UNKNOWN_BANK'
  | 'UNSUPPORTED_CURRENCY'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_FOUND'
  | 'REFERENCE_CONFLICT'
  | 'ALREADY_DECIDED'
  | 'PAYMENT_NOT_SUCCEEDED'
  | 'REFUND_EXCEEDS_PAYMENT'
  | 'TOO_MANY_REFUNDS'
  | 'STATEMENT_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'RATE_LIMITED'
  | 'BANK_UNAVAILABLE'
  | 'CAPACITY_EXCEEDED'
  | 'INTERNAL';

/** An expected, operational failure: answered as `{error:{code, message}}` with its HTTP status. */
export class BankError extends Error {
  override readonly name = 'BankError';
  constructor(
    readonly httpStatus: number,
    readonly code: BankErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The answer's body. */
  body(): { error: { code: BankErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/**
 * 409 ALREADY_DECIDED for a payment that is no longer pending. It carries the payment, so that the caller that lost
 * a race (an approval and a cancel that crossed) learns the outcome that stands.
 */
export class PaymentAlreadyDecidedError extends BankError {
  constructor(readonly payment: Payment) {
    super(
      409,
      'ALREADY_DECIDED',
      payment.status === 'canceled'
        ? 'the payment was canceled; it can no longer be approved or declined'
        : `the payment has already ${payment.status}`,
    );
  }
}

export interface PaymentRequest {
  reference: string;
  amountMinor: bigint;
  currency: Currency;
  bank: BankCode;
  returnUrl: string | null;
}

export interface PayoutRequest {
  reference: string;
  amountMinor: bigint;
  currency: Currency;
  bank: BankCode;
  bankAccount: string;
}

export interface RefundRequest {
  paymentId: string;
  reference: string;
  amountMinor: bigint;
}

// Shapes only; the Money, currency and bank rules are checked after, each with its own error code.
const paymentRequestSchema = z.object({
  reference: z.string().min(1).max(referenceLengthMax),
  amount: z.string(),
  currency: z.string(),
  bank: z.string(),
  returnUrl: httpUrlSchema.optional(),
});

const payoutRequestSchema = z.object({
  reference: z.string().min(1).max(referenceLengthMax),
  amount: z.string(),
  currency: z.string(),
  bank: z.string(),
  // Account numbers vary by bank; printable ASCII without spaces keeps logs and pages safe.
  bankAccount: z
    .string()
    .min(1)
    .max(bankAccountLengthMax)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});

// The refund's currency and bank are the payment's; only the amount is the caller's to choose.
const refundRequestSchema = z.object({
  payment: z.string().min(1).max(referenceLengthMax),
  amount: z.string(),
  reference: z.string().min(1).max(referenceLengthMax),
});

const codeByField: Record<string, BankErrorCode> = {
  amount: 'BAD_AMOUNT',
  bank: 'UNKNOWN_BANK',
  currency: 'UNSUPPORTED_CURRENCY',
};

function shapeError(error: z.ZodError, body: unknown): BankError {
  const issue = error.issues[0];
  if (issue === undefined || issue.path.length === 0) return new BankError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  const field = String(issue.path[0]);
  // A missing field is a malformed request; a present but wrong one gets the field's own code.
  const present = (body as Record<string, unknown>)[field] !== undefined;
  if (!present) return new BankError(400, 'BAD_REQUEST', `${field}: is required`);
  return new BankError(400, codeByField[field] ?? 'BAD_REQUEST', `${field}: ${issue.message}`);
}

function checkCommonFields(fields: { amount: string; currency: string; bank: string }): {
  amountMinor: bigint;
  currency: Currency;
  bank: BankCode;
} {
  const amountMinor = parseAmount(fields.amount);
  if (fields.currency !== supportedCurrency) {
    throw new BankError(400, 'UNSUPPORTED_CURRENCY', `currency: only ${supportedCurrency} is supported`);
  }
  if (!isKnownBank(fields.bank)) {
    throw new BankError(400, 'UNKNOWN_BANK', `bank: must be one of ${knownBanks.join(', ')}`);
  }
  return { amountMinor, currency: supportedCurrency, bank: fields.bank };
}

function parseAmount(amount: string): bigint {
  try {
    return parseMoneyInput(amount);
  } catch (error) {
    if (error instanceof MoneyFormatError) throw new BankError(400, 'BAD_AMOUNT', `amount: ${error.message}`);
    throw error;
  }
}

export function isKnownBank(value: string): value is BankCode {
  return (knownBanks as readonly string[]).includes(value);
}

/** Throws BankError (400) on anything that is not a valid payment request. */
export function parsePaymentRequest(body: unknown): PaymentRequest {
  const parsed = paymentRequestSchema.safeParse(body);
  if (!parsed.success) throw shapeError(parsed.error, body);
  return { reference: parsed.data.reference, ...checkCommonFields(parsed.data), returnUrl: parsed.data.returnUrl ?? null };
}

/** Throws BankError (400) on anything that is not a valid payout request. */
export function parsePayoutRequest(body: unknown): PayoutRequest {
  const parsed = payoutRequestSchema.safeParse(body);
  if (!parsed.success) throw shapeError(parsed.error, body);
  return { reference: parsed.data.reference, ...checkCommonFields(parsed.data), bankAccount: parsed.data.bankAccount };
}

/** Throws BankError (400) on anything that is not a valid refund request. */
export function parseRefundRequest(body: unknown): RefundRequest {
  const parsed = refundRequestSchema.safeParse(body);
  if (!parsed.success) throw shapeError(parsed.error, body);
  return { paymentId: parsed.data.payment, reference: parsed.data.reference, amountMinor: parseAmount(parsed.data.amount) };
}

/** What the Bank API answers for a payment; `redirectUrl` is the netbanking page. */
export function paymentView(payment: Payment, publicUrl: string) {
  return {
    id: payment.id,
    reference: payment.reference,
    amount: formatMoney(payment.amountMinor),
    currency: payment.currency,
    bank: payment.bank,
    status: payment.status,
    redirectUrl: `${publicUrl}/pay/${encodeURIComponent(payment.id)}`,
    createdAt: payment.createdAt,
    decidedAt: payment.decidedAt,
  };
}

export function payoutView(payout: Payout) {
  return {
    id: payout.id,
    reference: payout.reference,
    amount: formatMoney(payout.amountMinor),
    currency: payout.currency,
    bank: payout.bank,
    bankAccount: payout.bankAccount,
    status: payout.status,
    createdAt: payout.createdAt,
    decidedAt: payout.decidedAt,
  };
}

export function refundView(refund: Refund) {
  return {
    id: refund.id,
    payment: refund.paymentId,
    reference: refund.reference,
    amount: formatMoney(refund.amountMinor),
    currency: refund.currency,
    status: refund.status,
    createdAt: refund.createdAt,
    decidedAt: refund.decidedAt,
  };
}

// bank.md lists no payment.canceled: the engine cancels, so it already knows.
export type EventType =
  | 'payment.succeeded'
  | 'payment.failed'
  | 'payout.succeeded'
  | 'payout.failed'
  | 'refund.succeeded'
  | 'refund.failed';
export const eventTypes: readonly EventType[] = [
  'payment.succeeded',
  'payment.failed',
  'payout.succeeded',
  'payout.failed',
  'refund.succeeded',
  'refund.failed',
];

/**
 * One copy of one webhook event on its way to the engine. A duplicated event has two deliveries with the same
 * `webhookId`; each is retried on its own. `body` is fixed when the event happens and re-signed on every attempt.
 */
export type DeliveryState = 'pending' | 'delivered' | 'dropped' | 'given-up';
export const deliveryStates: readonly DeliveryState[] = ['pending', 'delivered', 'dropped', 'given-up'];

export interface Delivery {
  id: string;
  webhookId: string;
  eventType: EventType;
  subjectId: string;
  reference: string;
  copy: number;
  body: string;
  createdAt: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  state: DeliveryState;
}

/** What GET /v1/_deliveries shows: everything but the body. */
export function deliveryView(delivery: Delivery) {
  return {
    id: delivery.id,
    webhookId: delivery.webhookId,
    type: delivery.eventType,
    subjectId: delivery.subjectId,
    reference: delivery.reference,
    copy: delivery.copy,
    state: delivery.state,
    attempts: delivery.attempts,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    lastAttemptAt: delivery.lastAttemptAt,
    createdAt: delivery.createdAt,
  };
}
