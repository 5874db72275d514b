// The bank's state in memory: payments, payouts, refunds and webhook deliveries, changed only by applying journal
// records.
// The same `apply` serves live changes and replay, so a restarted simulator rebuilds exactly what it had.
import assert from 'node:assert/strict';
import type { Delivery, Payment, PaymentStatus, Payout, Refund, Status } from './model';
import type { JournalRecord } from './records';

/** Finished deliveries kept for GET /v1/_deliveries; the oldest are forgotten first. Pending ones are never. */
export const deliveryLogMax = 10_000;

type StatusCounts = Record<Status, number>;

export class BankStore {
  readonly payments = new Map<string, Payment>();
  readonly payouts = new Map<string, Payout>();
  readonly refunds = new Map<string, Refund>();
  readonly deliveries = new Map<string, Delivery>();
  readonly pendingDeliveryIds = new Set<string>();
  readonly paymentCounts: Record<PaymentStatus, number> = { pending: 0, succeeded: 0, failed: 0, canceled: 0 };
  readonly payoutCounts: StatusCounts = { pending: 0, succeeded: 0, failed: 0 };
  readonly refundCounts: StatusCounts = { pending: 0, succeeded: 0, failed: 0 };
  private readonly paymentIdByReference = new Map<string, string>();
  private readonly payoutIdByReference = new Map<string, string>();
  private readonly refundIdByReference = new Map<string, string>();
  // Refund ids of each payment in the order they were made; bounded by refundsPerPaymentMax (bank.ts).
  private readonly refundIdsByPayment = new Map<string, string[]>();
  // Finished delivery ids in the order they finished; a plain array is fine at this size.
  private readonly finishedDeliveryIds: string[] = [];

  paymentByReference(reference: string): Payment | undefined {
    const id = this.paymentIdByReference.get(reference);
    return id === undefined ? undefined : this.payments.get(id);
  }

  payoutByReference(reference: string): Payout | undefined {
    const id = this.payoutIdByReference.get(reference);
    return id === undefined ? undefined : this.payouts.get(id);
  }

  refundByReference(reference: string): Refund | undefined {
    const id = this.refundIdByReference.get(reference);
    return id === undefined ? undefined : this.refunds.get(id);
  }

  /** The payment's refunds, oldest first. */
  refundsOfPayment(paymentId: string): Refund[] {
    const ids = this.refundIdsByPayment.get(paymentId) ?? [];
    return ids.map((id) => {
      const refund = this.refunds.get(id);
      assert(refund !== undefined, `refund ${id} indexed but missing`);
      return refund;
    });
  }

  apply(record: JournalRecord): void {
    switch (record.type) {
      case 'payment':
        return this.applyPayment(record.payment);
      case 'payout':
        return this.applyPayout(record.payout);
      case 'refund':
        return this.applyRefund(record.refund);
      case 'delivery':
        return this.applyDelivery(record.delivery);
      case 'attempt': {
        const delivery = this.deliveries.get(record.deliveryId);
        assert(delivery !== undefined, `attempt for unknown delivery ${record.deliveryId}`);
        const { type: _type, deliveryId: _deliveryId, ...update } = record;
        return this.applyDelivery({ ...delivery, ...update });
      }
    }
  }

  /** Records that rebuild the current state: what compaction writes. */
  *snapshot(): Iterable<JournalRecord> {
    for (const payment of this.payments.values()) yield { type: 'payment', payment };
    for (const payout of this.payouts.values()) yield { type: 'payout', payout };
    // After the payments: replaying a refund needs its payment.
    for (const refund of this.refunds.values()) yield { type: 'refund', refund };
    for (const delivery of this.deliveries.values()) yield { type: 'delivery', delivery };
  }

  private applyPayment(payment: Payment): void {
    const existing = this.payments.get(payment.id);
    assertOutcomeKept(existing, payment);
    const referenceOwner = this.paymentIdByReference.get(payment.reference);
    assert(referenceOwner === undefined || referenceOwner === payment.id, `reference ${payment.reference} reused`);
    if (existing !== undefined) this.paymentCounts[existing.status] -= 1;
    this.paymentCounts[payment.status] += 1;
    this.payments.set(payment.id, payment);
    this.paymentIdByReference.set(payment.reference, payment.id);
  }

  private applyPayout(payout: Payout): void {
    const existing = this.payouts.get(payout.id);
    assertOutcomeKept(existing, payout);
    const referenceOwner = this.payoutIdByReference.get(payout.reference);
    assert(referenceOwner === undefined || referenceOwner === payout.id, `reference ${payout.reference} reused`);
    if (existing !== undefined) this.payoutCounts[existing.status] -= 1;
    this.payoutCounts[payout.status] += 1;
    this.payouts.set(payout.id, payout);
    this.payoutIdByReference.set(payout.reference, payout.id);
  }

  private applyRefund(refund: Refund): void {
    const existing = this.refunds.get(refund.id);
    assertOutcomeKept(existing, refund);
    assert(this.payments.has(refund.paymentId), `refund ${refund.id} of unknown payment ${refund.paymentId}`);
    const referenceOwner = this.refundIdByReference.get(refund.reference);
    assert(referenceOwner === undefined || referenceOwner === refund.id, `reference ${refund.reference} reused`);
    if (existing !== undefined) {
      assert.equal(existing.paymentId, refund.paymentId, 'a refund moved to another payment');
      this.refundCounts[existing.status] -= 1;
    } else {
      const ids = this.refundIdsByPayment.get(refund.paymentId) ?? [];
      ids.push(refund.id);
      this.refundIdsByPayment.set(refund.paymentId, ids);
    }
    this.refundCounts[refund.status] += 1;
    this.refunds.set(refund.id, refund);
    this.refundIdByReference.set(refund.reference, refund.id);
  }

  private applyDelivery(delivery: Delivery): void {
    const existing = this.deliveries.get(delivery.id);
    assert(existing === undefined || existing.state === 'pending' || existing.state === delivery.state, 'delivery reopened');
    this.deliveries.set(delivery.id, delivery);
    if (delivery.state === 'pending') {
      this.pendingDeliveryIds.add(delivery.id);
      return;
    }
    this.pendingDeliveryIds.delete(delivery.id);
    if (existing !== undefined && existing.state !== 'pending') return;
    this.finishedDeliveryIds.push(delivery.id);
    while (this.finishedDeliveryIds.length > deliveryLogMax) {
      const forgotten = this.finishedDeliveryIds.shift();
      if (forgotten !== undefined) this.deliveries.delete(forgotten);
    }
  }
}

/** The bank's promise: once succeeded, failed or canceled, an outcome never changes. */
function assertOutcomeKept(existing: { status: PaymentStatus } | undefined, next: { status: PaymentStatus }): void {
  if (existing === undefined || existing.status === 'pending') return;
  assert.equal(next.status, existing.status, 'an outcome changed after it was decided');
}
