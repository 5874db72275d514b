// The simulated bank's behaviour: creating payments and payouts idempotently by reference, deciding them
// (by a person, by the auto-approve timer, or by payout settlement) and handing each outcome to the webhooks.
import assert from 'node:assert/strict';
import type { Logger } from '../common/log';
import { formatMoney } from '../common/money';
import type { ControlSettings } from './control';
import {
  BankError,
  type Outcome,
  type Payment,
  type PaymentRequest,
  type Payout,
  type PayoutRequest,
} from './model';
import { newId, type SeededRandom } from './random';
import type { JournalRecord } from './records';
import type { BankStore } from './store';
import type { WebhookDispatcher, WebhookEvent } from './webhooks';

/** Payments (and, separately, payouts) the simulator keeps; beyond this, new ones are answered 503. */
export const paymentsMax = 1_000_000;
export const payoutsMax = 1_000_000;

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

  /** A person (or a script) approves or declines. Throws 404 NOT_FOUND or 409 ALREADY_DECIDED. */
  decidePayment(id: string, outcome: Outcome): Payment {
    const payment = this.dependencies.store.payments.get(id);
    if (payment === undefined) throw new BankError(404, 'NOT_FOUND', 'no payment with this id');
    if (payment.status !== 'pending') {
      throw new BankError(409, 'ALREADY_DECIDED', `the payment has already ${payment.status}`);
    }
    return this.finishPayment(payment, outcome, 'person');
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

  /** After replay: restarts the timers of pending payments and payouts and the pending webhook deliveries. */
  resume(): void {
    const { store, dispatcher } = this.dependencies;
    for (const payment of store.payments.values()) {
      if (payment.status === 'pending') this.scheduleAutoDecision(payment);
    }
    for (const payout of store.payouts.values()) {
      if (payout.status === 'pending') this.scheduleSettlement(payout);
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

  // The outcome and its webhook deliveries are journaled in one write, so neither survives a crash without the other.
  private commitOutcome(outcomeRecord: JournalRecord, event: WebhookEvent): void {
    const deliveries = this.dependencies.dispatcher.planEvent(event);
    this.dependencies.commit([outcomeRecord, ...deliveries.map((delivery): JournalRecord => ({ type: 'delivery', delivery }))]);
    for (const delivery of deliveries) this.dependencies.dispatcher.start(delivery);
  }
}
