// The simulated bank's behaviour: creating payments, payouts and refunds idempotently by reference, deciding them
// (by a person, by the auto-approve timer, by a cancel, or by settlement) and handing each outcome to the webhooks.
// Every check-then-commit below runs in one synchronous turn of the event loop, with no await between the check
// and the journal write: two requests that cross (an approval and a cancel) cannot both pass the same check.
import assert from 'node:assert/strict';
import type { Logger } from '../common/log';
import { formatMoney } from '../common/money';
import type { ControlSettings } from './control';
import {
  BankError,
  PaymentAlreadyDecidedError,
  type Outcome,
  type Payment,
  type PaymentRequest,
  type Payout,
  type PayoutRequest,
  type Refund,
  type RefundRequest,
} from './model';
import { newId, type SeededRandom } from './random';
import type { JournalRecord } from './records';
import type { BankStore } from './store';
import type { WebhookDispatcher, WebhookEvent } from './webhooks';

/** Payments (and, separately, payouts and refunds) the simulator keeps; beyond this, new ones are answered 503. */
export const paymentsMax = 1_000_000;
export const payoutsMax = 1_000_000;
export const refundsMax = 1_000_000;
/** Partial refunds of one payment; real gateways cap them too, and it bounds GET /v1/refunds?payment=. */
export const refundsPerPaymentMax = 100;

export interface BankDependencies {
  store: BankStore;
  commit: (records: JournalRecord[]) => void;
  control: () => ControlSettings;
  random: SeededRandom;
  dispatcher: WebhookDispatcher;
  logger: Logger;
}

export class Bank {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly dependencies: BankDependencies) {}

  createPayment(request: PaymentRequest): { payment: Payment; created: boolean } {
    const { store, logger } = this.dependencies;
    const existing = store.paymentByReference(request.reference);
    if (existing !== undefined) {
      if (existing.amountMinor !== request.amountMinor || existing.currency !== request.currency || existing.bank !== request.bank) {
        throw new BankError(409, 'REFERENCE_CONFLICT', 'a payment with this reference exists with another amount or bank');
      }
      return { payment: existing, created: false };
    }
    if (store.payments.size >= paymentsMax) {
      throw new BankError(503, 'CAPACITY_EXCEEDED', `the simulator holds at most ${paymentsMax} payments`);
    }
    const nowMs = Date.now();
    const autoApprovePaymentsMs = this.dependencies.control().autoApprovePaymentsMs;
    const payment: Payment = {
      id: newId('pay'),
      ...request,
      status: 'pending',
      createdAt: new Date(nowMs).toISOString(),
      decidedAt: null,
      autoDecideAt: autoApprovePaymentsMs === null ? null : nowMs + autoApprovePaymentsMs,
    };
    this.dependencies.commit([{ type: 'payment', payment }]);
    this.scheduleAutoDecision(payment);
    logger.info({ paymentId: payment.id, reference: payment.reference, bank: payment.bank }, 'payment created');
    return { payment, created: true };
  }

  /** A person (or a script) approves or declines. Throws 404 NOT_FOUND or 409 ALREADY_DECIDED with the payment. */
  decidePayment(id: string, outcome: Outcome): Payment {
    const payment = this.findPayment(id);
    if (payment.status !== 'pending') throw new PaymentAlreadyDecidedError(payment);
    return this.finishPayment(payment, outcome, 'person');
  }

  /**
   * The merchant calls a pending payment off: no one can approve it afterwards, and a pending auto-approval finds it
   * no longer pending. Canceling a canceled payment again answers the same (a retried call). No webhook: bank.md has
   * no payment.canceled, and the caller is the one who canceled. Throws 409 ALREADY_DECIDED once it succeeded or failed.
   */
  cancelPayment(id: string): Payment {
    const payment = this.findPayment(id);
    if (payment.status === 'canceled') return payment;
    if (payment.status !== 'pending') throw new PaymentAlreadyDecidedError(payment);
    const canceled: Payment = { ...payment, status: 'canceled', decidedAt: new Date().toISOString() };
    this.dependencies.commit([{ type: 'payment', payment: canceled }]);
    this.dependencies.logger.info({ paymentId: canceled.id, reference: canceled.reference }, 'payment canceled');
    return canceled;
  }

  createPayout(request: PayoutRequest): { payout: Payout; created: boolean } {
    const { store, logger } = this.dependencies;
    const existing = store.payoutByReference(request.reference);
    if (existing !== undefined) {
      const same =
        existing.amountMinor === request.amountMinor &&
        existing.currency === request.currency &&
        existing.bank === request.bank &&
        existing.bankAccount === request.bankAccount;
      if (!same) {
        throw new BankError(409, 'REFERENCE_CONFLICT', 'a payout with this reference exists with another amount or account');
      }
      return { payout: existing, created: false };
    }
    if (store.payouts.size >= payoutsMax) {
      throw new BankError(503, 'CAPACITY_EXCEEDED', `the simulator holds at most ${payoutsMax} payouts`);
    }
    const nowMs = Date.now();
    const payout: Payout = {
      id: newId('pout'),
      ...request,
      status: 'pending',
      createdAt: new Date(nowMs).toISOString(),
      decidedAt: null,
      settleAt: nowMs + this.dependencies.control().payoutSettleMs,
    };
    this.dependencies.commit([{ type: 'payout', payout }]);
    this.scheduleSettlement(payout);
    logger.info({ payoutId: payout.id, reference: payout.reference, bank: payout.bank }, 'payout created');
    return { payout, created: true };
  }

  /**
   * Returns money a succeeded payment took, in whole or in parts: the amount may not exceed the payment's amount less
   * its refunds that have not failed (a pending one may still succeed). Idempotent on `reference`.
   */
  createRefund(request: RefundRequest): { refund: Refund; created: boolean } {
    const { store, logger } = this.dependencies;
    const existing = store.refundByReference(request.reference);
    if (existing !== undefined) {
      if (existing.paymentId !== request.paymentId || existing.amountMinor !== request.amountMinor) {
        throw new BankError(409, 'REFERENCE_CONFLICT', 'a refund with this reference exists with another payment or amount');
      }
      return { refund: existing, created: false };
    }
    const payment = this.findPayment(request.paymentId);
    this.checkRefundable(payment, request.amountMinor);
    if (store.refunds.size >= refundsMax) {
      throw new BankError(503, 'CAPACITY_EXCEEDED', `the simulator holds at most ${refundsMax} refunds`);
    }
    const nowMs = Date.now();
    const refund: Refund = {
      id: newId('rfnd'),
      reference: request.reference,
      paymentId: payment.id,
      amountMinor: request.amountMinor,
      currency: payment.currency,
      status: 'pending',
      createdAt: new Date(nowMs).toISOString(),
      decidedAt: null,
      settleAt: nowMs + this.dependencies.control().refundSettleMs,
    };
    this.dependencies.commit([{ type: 'refund', refund }]);
    this.scheduleRefundSettlement(refund);
    logger.info({ refundId: refund.id, reference: refund.reference, paymentId: payment.id }, 'refund created');
    return { refund, created: true };
  }

  /** After replay: restarts the timers of pending payments, payouts and refunds and the pending webhook deliveries. */
  resume(): void {
    const { store, dispatcher } = this.dependencies;
    for (const payment of store.payments.values()) {
      if (payment.status === 'pending') this.scheduleAutoDecision(payment);
    }
    for (const payout of store.payouts.values()) {
      if (payout.status === 'pending') this.scheduleSettlement(payout);
    }
    for (const refund of store.refunds.values()) {
      if (refund.status === 'pending') this.scheduleRefundSettlement(refund);
    }
    for (const deliveryId of store.pendingDeliveryIds) {
      const delivery = store.deliveries.get(deliveryId);
      assert(delivery !== undefined);
      dispatcher.start(delivery);
    }
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private findPayment(id: string): Payment {
    const payment = this.dependencies.store.payments.get(id);
    if (payment === undefined) throw new BankError(404, 'NOT_FOUND', 'no payment with this id');
    return payment;
  }

  private checkRefundable(payment: Payment, amountMinor: bigint): void {
    if (payment.status !== 'succeeded') {
      const state = payment.status === 'pending' ? 'is still pending' : `has ${payment.status}`;
      throw new BankError(409, 'PAYMENT_NOT_SUCCEEDED', `the payment ${state}: it took no money to refund`);
    }
    const refunds = this.dependencies.store.refundsOfPayment(payment.id);
    if (refunds.length >= refundsPerPaymentMax) {
      throw new BankError(409, 'TOO_MANY_REFUNDS', `a payment may have at most ${refundsPerPaymentMax} refunds`);
    }
    let refundedMinor = 0n;
    for (const refund of refunds) if (refund.status !== 'failed') refundedMinor += refund.amountMinor;
    const refundableMinor = payment.amountMinor - refundedMinor;
    assert(refundableMinor >= 0n, `payment ${payment.id} refunded beyond its amount`);
    if (amountMinor > refundableMinor) {
      const left = `${formatMoney(refundableMinor)} of the payment's ${formatMoney(payment.amountMinor)}`;
      throw new BankError(409, 'REFUND_EXCEEDS_PAYMENT', `amount: ${formatMoney(amountMinor)} exceeds the ${left} left to refund`);
    }
  }

  private after(atMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, Math.max(0, atMs - Date.now()));
    this.timers.add(timer);
  }

  private scheduleAutoDecision(payment: Payment): void {
    if (payment.autoDecideAt === null) return;
    this.after(payment.autoDecideAt, () => {
      const current = this.dependencies.store.payments.get(payment.id);
      // A person may have decided first; the first decision stands.
      if (current === undefined || current.status !== 'pending') return;
      this.finishPayment(current, this.automaticOutcome(), 'automatic');
    });
  }

  private scheduleSettlement(payout: Payout): void {
    this.after(payout.settleAt, () => {
      const current = this.dependencies.store.payouts.get(payout.id);
      if (current === undefined || current.status !== 'pending') return;
      this.finishPayout(current, this.automaticOutcome());
    });
  }

  private scheduleRefundSettlement(refund: Refund): void {
    this.after(refund.settleAt, () => {
      const current = this.dependencies.store.refunds.get(refund.id);
      if (current === undefined || current.status !== 'pending') return;
      this.finishRefund(current, this.automaticOutcome());
    });
  }

  // declineRate applies to decisions the bank makes by itself; a person who clicks Approve approves.
  private automaticOutcome(): Outcome {
    return this.dependencies.random.chance(this.dependencies.control().declineRate) ? 'failed' : 'succeeded';
  }

  private finishPayment(payment: Payment, outcome: Outcome, decidedBy: 'person' | 'automatic'): Payment {
    const decided: Payment = { ...payment, status: outcome, decidedAt: new Date().toISOString() };
    this.commitOutcome({ type: 'payment', payment: decided }, {
      type: outcome === 'succeeded' ? 'payment.succeeded' : 'payment.failed',
      subjectId: decided.id,
      reference: decided.reference,
      data: {
        id: decided.id,
        reference: decided.reference,
        amount: formatMoney(decided.amountMinor),
        currency: decided.currency,
        status: outcome,
        bank: decided.bank,
      },
    });
    this.dependencies.logger.info({ paymentId: decided.id, reference: decided.reference, status: outcome, decidedBy }, 'payment decided');
    return decided;
  }

  private finishPayout(payout: Payout, outcome: Outcome): Payout {
    const decided: Payout = { ...payout, status: outcome, decidedAt: new Date().toISOString() };
    this.commitOutcome({ type: 'payout', payout: decided }, {
      type: outcome === 'succeeded' ? 'payout.succeeded' : 'payout.failed',
      subjectId: decided.id,
      reference: decided.reference,
      data: {
        id: decided.id,
        reference: decided.reference,
        amount: formatMoney(decided.amountMinor),
        currency: decided.currency,
        status: outcome,
        bank: decided.bank,
        bankAccount: decided.bankAccount,
      },
    });
    this.dependencies.logger.info({ payoutId: decided.id, reference: decided.reference, status: outcome }, 'payout settled');
    return decided;
  }

  private finishRefund(refund: Refund, outcome: Outcome): Refund {
    const decided: Refund = { ...refund, status: outcome, decidedAt: new Date().toISOString() };
    this.commitOutcome({ type: 'refund', refund: decided }, {
      type: outcome === 'succeeded' ? 'refund.succeeded' : 'refund.failed',
      subjectId: decided.id,
      reference: decided.reference,
      data: {
        id: decided.id,
        reference: decided.reference,
        amount: formatMoney(decided.amountMinor),
        currency: decided.currency,
        status: outcome,
        payment: decided.paymentId,
      },
    });
    this.dependencies.logger.info({ refundId: decided.id, reference: decided.reference, status: outcome }, 'refund settled');
    return decided;
  }

  // The outcome and its webhook deliveries are journaled in one write, so neither survives a crash without the other.
  private commitOutcome(outcomeRecord: JournalRecord, event: WebhookEvent): void {
    const deliveries = this.dependencies.dispatcher.planEvent(event);
    this.dependencies.commit([outcomeRecord, ...deliveries.map((delivery): JournalRecord => ({ type: 'delivery', delivery }))]);
    for (const delivery of deliveries) this.dependencies.dispatcher.start(delivery);
  }
}
