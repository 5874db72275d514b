// The statement (an extension for the engine's reconciliation): every succeeded payment, payout and refund decided
// in a time range, as a bank's account statement lists them. Read-only, and bounded so one request stays bounded.
import assert from 'node:assert/strict';
import { z } from 'zod';
import { formatMoney } from '../common/money';
import { BankError, type BankCode, type Currency, type PaymentStatus } from './model';
import type { BankStore } from './store';

/** Items in one statement, all kinds together; a range holding more is refused (never cut short in silence). */
export const statementItemsMax = 100_000;

// RFC 3339 with seconds and an offset (Z or ±hh:mm), as zod checks it: real dates only.
const statementQuerySchema = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
});

/** Half-open: an item decided at `from` is in, one decided at `to` is out, so adjacent ranges never overlap. */
export interface StatementRange {
  fromMs: number;
  toMs: number;
}

export interface StatementItem {
  id: string;
  reference: string;
  amount: string;
  currency: Currency;
  bank: BankCode;
  status: 'succeeded';
  decidedAt: string;
  /** Refunds only: the payment refunded. */
  payment?: string;
}

interface Decided {
  id: string;
  reference: string;
  amountMinor: bigint;
  currency: Currency;
  status: PaymentStatus;
  decidedAt: string | null;
}

/** Throws BankError (400) unless `from` and `to` are RFC 3339 instants with from <= to. */
export function parseStatementQuery(query: unknown): StatementRange {
  const parsed = statementQuerySchema.safeParse(query);
  if (!parsed.success) {
    const example = '?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00+05:30';
    throw new BankError(400, 'BAD_REQUEST', `give from and to, once each, as RFC 3339 instants, e.g. ${example}`);
  }
  const range = { fromMs: instantCeilingMs(parsed.data.from), toMs: instantCeilingMs(parsed.data.to) };
  if (range.fromMs > range.toMs) throw new BankError(400, 'BAD_REQUEST', 'from must not be after to');
  return range;
}

export function buildStatement(store: BankStore, range: StatementRange) {
  const budget = { itemsLeft: statementItemsMax };
  const payments = collect(store.payments.values(), range, budget, (payment) => ({ bank: payment.bank }));
  const payouts = collect(store.payouts.values(), range, budget, (payout) => ({ bank: payout.bank }));
  const refunds = collect(store.refunds.values(), range, budget, (refund) => {
    const payment = store.payments.get(refund.paymentId);
    assert(payment !== undefined, `refund ${refund.id} of unknown payment`);
    return { bank: payment.bank, payment: payment.id };
  });
  return { payments, payouts, refunds };
}

/** The succeeded records decided in the range, oldest decision first. */
function collect<T extends Decided>(
  records: Iterable<T>,
  range: StatementRange,
  budget: { itemsLeft: number },
  extra: (record: T) => { bank: BankCode; payment?: string },
): StatementItem[] {
  const items: StatementItem[] = [];
  for (const record of records) {
    if (record.status !== 'succeeded' || record.decidedAt === null) continue;
    const decidedMs = Date.parse(record.decidedAt);
    if (decidedMs < range.fromMs || decidedMs >= range.toMs) continue;
    if (budget.itemsLeft === 0) {
      throw new BankError(400, 'STATEMENT_TOO_LARGE', `the range holds more than ${statementItemsMax} items; ask for shorter ranges`);
    }
    budget.itemsLeft -= 1;
    items.push({
      id: record.id,
      reference: record.reference,
      amount: formatMoney(record.amountMinor),
      currency: record.currency,
      status: 'succeeded',
      decidedAt: record.decidedAt,
      ...extra(record),
    });
  }
  // Decisions are stored as toISOString() (UTC, milliseconds), so text order is time order.
  return items.sort((left, right) => compare(left.decidedAt, right.decidedAt) || compare(left.id, right.id));
}

function compare(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

// Decisions are kept to the millisecond; an instant with a finer non-zero fraction lies inside its millisecond, so
// the decisions of that millisecond are before it. Rounding up keeps the half-open range exact.
function instantCeilingMs(instant: string): number {
  const ms = Date.parse(instant);
  assert(Number.isFinite(ms), `unparsable instant ${instant}`);
  const fraction = /\.(\d+)/.exec(instant)?.[1] ?? '';
  return /[1-9]/.test(fraction.slice(3)) ? ms + 1 : ms;
}
