// Journal records: every change of the bank's state as one JSON line, and their checked decoding on replay.
// Each record is an upsert (or a delivery's attempt update), so replaying a compacted journal gives the same state.
import { z } from 'zod';
import { formatMoney } from '../common/money';
import {
  deliveryStates,
  eventTypes,
  knownBanks,
  paymentStatuses,
  supportedCurrency,
  type Delivery,
  type DeliveryState,
  type Payment,
  type PaymentStatus,
  type Payout,
  type Refund,
} from './model';

export type JournalRecord =
  | { type: 'payment'; payment: Payment }
  | { type: 'payout'; payout: Payout }
  | { type: 'refund'; refund: Refund }
  | { type: 'delivery'; delivery: Delivery }
  | {
      type: 'attempt';
      deliveryId: string;
      attempts: number;
      lastStatusCode: number | null;
      lastError: string | null;
      lastAttemptAt: string;
      state: DeliveryState;
    };

const statusSchema = z.enum(['pending', 'succeeded', 'failed']);
const paymentStatusSchema = z.enum(paymentStatuses as [PaymentStatus, ...PaymentStatus[]]);
const amountSchema = z.string().regex(/^[0-9]{1,20}$/).transform((digits) => BigInt(digits));
const bankSchema = z.enum(knownBanks);
const deliveryStateSchema = z.enum(deliveryStates as [DeliveryState, ...DeliveryState[]]);

const paymentSchema = z.strictObject({
  id: z.string(),
  reference: z.string(),
  amount: amountSchema,
  currency: z.literal(supportedCurrency),
  bank: bankSchema,
  returnUrl: z.string().nullable(),
  status: paymentStatusSchema,
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
  autoDecideAt: z.number().nullable(),
});

const payoutSchema = z.strictObject({
  id: z.string(),
  reference: z.string(),
  amount: amountSchema,
  currency: z.literal(supportedCurrency),
  bank: bankSchema,
  bankAccount: z.string(),
  status: statusSchema,
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
  settleAt: z.number(),
});

const refundSchema = z.strictObject({
  id: z.string(),
  reference: z.string(),
  paymentId: z.string(),
  amount: amountSchema,
  currency: z.literal(supportedCurrency),
  status: statusSchema,
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
  settleAt: z.number(),
});

const deliverySchema = z.strictObject({
  id: z.string(),
  webhookId: z.string(),
  eventType: z.enum(eventTypes as [string, ...string[]]),
  subjectId: z.string(),
  reference: z.string(),
  copy: z.int().min(1),
  body: z.string(),
  createdAt: z.string(),
  attempts: z.int().min(0),
  lastStatusCode: z.int().nullable(),
  lastError: z.string().nullable(),
  lastAttemptAt: z.string().nullable(),
  state: deliveryStateSchema,
});

const recordSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('payment'), payment: paymentSchema }),
  z.strictObject({ type: z.literal('payout'), payout: payoutSchema }),
  z.strictObject({ type: z.literal('refund'), refund: refundSchema }),
  z.strictObject({ type: z.literal('delivery'), delivery: deliverySchema }),
  z.strictObject({
    type: z.literal('attempt'),
    deliveryId: z.string(),
    attempts: z.int().min(1),
    lastStatusCode: z.int().nullable(),
    lastError: z.string().nullable(),
    lastAttemptAt: z.string(),
    state: deliveryStateSchema,
  }),
]);

/** One JSON line, with the newline. Money leaves bigint here and only here. */
export function encodeRecord(record: JournalRecord): string {
  switch (record.type) {
    case 'payment': {
      const { amountMinor, ...rest } = record.payment;
      return `${JSON.stringify({ type: 'payment', payment: { ...rest, amount: formatMoney(amountMinor) } })}\n`;
    }
    case 'payout': {
      const { amountMinor, ...rest } = record.payout;
      return `${JSON.stringify({ type: 'payout', payout: { ...rest, amount: formatMoney(amountMinor) } })}\n`;
    }
    case 'refund': {
      const { amountMinor, ...rest } = record.refund;
      return `${JSON.stringify({ type: 'refund', refund: { ...rest, amount: formatMoney(amountMinor) } })}\n`;
    }
    case 'delivery':
    case 'attempt':
      return `${JSON.stringify(record)}\n`;
  }
}

/** Throws on a line that is not a record this version wrote. */
export function decodeRecord(line: string): JournalRecord {
  const record = recordSchema.parse(JSON.parse(line));
  switch (record.type) {
    case 'payment': {
      const { amount, ...rest } = record.payment;
      return { type: 'payment', payment: { ...rest, amountMinor: amount } };
    }
    case 'payout': {
      const { amount, ...rest } = record.payout;
      return { type: 'payout', payout: { ...rest, amountMinor: amount } };
    }
    case 'refund': {
      const { amount, ...rest } = record.refund;
      return { type: 'refund', refund: { ...rest, amountMinor: amount } };
    }
    case 'delivery':
      return { type: 'delivery', delivery: record.delivery as Delivery };
    case 'attempt':
      return record;
  }
}
