// Webhook deliveries: builds each outcome's event, signs every attempt afresh (Standard Webhooks, every secret),
// POSTs it to the engine and retries on the configured schedule, with bounded concurrency and a bounded queue.
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '../common/log';
import type { ControlSettings } from './control';
import type { Delivery, EventType } from './model';
import { newId, type SeededRandom } from './random';
import type { JournalRecord } from './records';
import type { BankStore } from './store';

/** Requests to the webhook URL at the same time; the rest wait their turn in order. */
export const deliveriesInFlightMax = 32;
/** Deliveries not yet finished (waiting, retrying or sending). A new event beyond this is given up at once. */
export const deliveriesPendingMax = 10_000;
const errorTextLengthMax = 200;

export interface WebhookEvent {
  type: EventType;
  subjectId: string;
  reference: string;
  data: Record<string, string>;
}

export interface WebhookDispatcherDependencies {
  store: BankStore;
  commit: (records: JournalRecord[]) => void;
  control: () => ControlSettings;
  random: SeededRandom;
  webhookSecrets: readonly string[];
  deliveryTimeoutMs: number;
  logger: Logger;
}

interface AttemptResult {
  statusCode: number | null;
  error: string | null;
}

export class WebhookDispatcher {
  readonly counters = { attemptsSent: 0, attemptsLost: 0, delivered: 0, givenUp: 0, dropped: 0, duplicated: 0 };
  private readonly signers: Webhook[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ready: string[] = [];
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private closed = false;

  constructor(private readonly dependencies: WebhookDispatcherDependencies) {
    assert(dependencies.webhookSecrets.length > 0, 'at least one webhook secret is needed');
    this.signers = dependencies.webhookSecrets.map((secret) => new Webhook(secret));
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** The deliveries of one new event (dropped, one copy, or two); the caller commits them, then calls start. */
  planEvent(event: WebhookEvent): Delivery[] {
    const control = this.dependencies.control();
    const createdAt = new Date().toISOString();
    const base = {
      webhookId: newId('msg'),
      eventType: event.type,
      subjectId: event.subjectId,
      reference: event.reference,
      body: JSON.stringify({ type: event.type, timestamp: createdAt, data: event.data }),
      createdAt,
      attempts: 0,
      lastStatusCode: null,
      lastError: null,
      lastAttemptAt: null,
    };
    if (this.dependencies.store.pendingDeliveryIds.size + 2 > deliveriesPendingMax) {
      this.dependencies.logger.error({ reference: event.reference, type: event.type }, 'webhook queue full; giving up');
      return [{ ...base, id: newId('dlv'), copy: 1, state: 'given-up', lastError: 'delivery queue full' }];
    }
    if (this.dependencies.random.chance(control.dropRate)) {
      this.counters.dropped += 1;
      return [{ ...base, id: newId('dlv'), copy: 1, state: 'dropped', lastError: 'dropped (dropRate)' }];
    }
    const copies = this.dependencies.random.chance(control.duplicateRate) ? 2 : 1;
    if (copies === 2) this.counters.duplicated += 1;
    const deliveries: Delivery[] = [];
    for (let copy = 1; copy <= copies; copy += 1) deliveries.push({ ...base, id: newId('dlv'), copy, state: 'pending' });
    return deliveries;
  }

  /** Schedules the next attempt of a pending delivery: a new one, or one resumed after a restart. */
  start(delivery: Delivery): void {
    if (this.closed || delivery.state !== 'pending') return;
    const control = this.dependencies.control();
    const scheduleMs = control.webhookRetryScheduleMs;
    if (delivery.attempts >= scheduleMs.length) {
      // The schedule got shorter (control or restart) than the attempts already made.
      this.finish(delivery, { statusCode: delivery.lastStatusCode, error: 'retry schedule exhausted' }, delivery.attempts);
      return;
    }
    const delayMs = scheduleMs[delivery.attempts] ?? 0;
    this.schedule(delivery.id, delivery.attempts === 0 ? delayMs + this.extraDelayMs(control) : delayMs);
  }

  /** Stops sending: timers cleared, requests aborted. Unfinished deliveries stay pending in the journal. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    const running = [...this.inFlight.values()];
    for (const { controller } of running) controller.abort();
    await Promise.allSettled(running.map(({ done }) => done));
  }

  // webhookDelayMs plus up to as much again of jitter, so that deliveries made close together can swap order.
  private extraDelayMs(control: ControlSettings): number {
    if (control.webhookDelayMs === 0) return 0;
    return control.webhookDelayMs + Math.floor(this.dependencies.random.next() * control.webhookDelayMs);
  }

  private schedule(deliveryId: string, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.ready.push(deliveryId);
      this.pump();
    }, delayMs);
    this.timers.add(timer);
  }

  private pump(): void {
    while (!this.closed && this.inFlight.size < deliveriesInFlightMax && this.ready.length > 0) {
      const deliveryId = this.ready.shift();
      assert(deliveryId !== undefined);
      const controller = new AbortController();
      const done = this.attempt(deliveryId, controller).finally(() => {
        this.inFlight.delete(deliveryId);
        this.pump();
      });
      this.inFlight.set(deliveryId, { controller, done });
    }
  }

  private async attempt(deliveryId: string, controller: AbortController): Promise<void> {
    const delivery = this.dependencies.store.deliveries.get(deliveryId);
    assert(delivery !== undefined && delivery.state === 'pending', `delivery ${deliveryId} is not pending`);
    const attemptNumber = delivery.attempts + 1;
    let result: AttemptResult;
    if (attemptNumber <= this.dependencies.control().failFirstDeliveries) {
      this.counters.attemptsLost += 1;
      result = { statusCode: null, error: 'lost on the way (failFirstDeliveries)' };
    } else {
      this.counters.attemptsSent += 1;
      result = await this.send(delivery, controller);
    }
    // An attempt cut short by shutdown is not recorded: it is made again after the restart.
    if (this.closed) return;
    this.finish(delivery, result, attemptNumber);
  }

  private finish(delivery: Delivery, result: AttemptResult, attempts: number): void {
    const scheduleMs = this.dependencies.control().webhookRetryScheduleMs;
    const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const state = delivered ? 'delivered' : attempts >= scheduleMs.length ? 'given-up' : 'pending';
    this.dependencies.commit([
      {
        type: 'attempt',
        deliveryId: delivery.id,
        attempts,
        lastStatusCode: result.statusCode,
        lastError: delivered ? null : result.error,
        lastAttemptAt: new Date().toISOString(),
        state,
      },
    ]);
    const context = { webhookId: delivery.webhookId, type: delivery.eventType, reference: delivery.reference, attempts };
    if (state === 'delivered') {
      this.counters.delivered += 1;
      this.dependencies.logger.debug({ ...context, statusCode: result.statusCode }, 'webhook delivered');
    } else if (state === 'given-up') {
      this.counters.givenUp += 1;
      this.dependencies.logger.warn({ ...context, error: result.error }, 'webhook delivery given up');
    } else {
      this.dependencies.logger.debug({ ...context, error: result.error }, 'webhook attempt failed; will retry');
      this.schedule(delivery.id, scheduleMs[attempts] ?? 0);
    }
  }

  private async send(delivery: Delivery, controller: AbortController): Promise<AttemptResult> {
    const sentAt = new Date();
    // Every attempt is signed again with its own timestamp, by every secret (rotation).
    const signature = this.signers.map((signer) => signer.sign(delivery.webhookId, sentAt, delivery.body)).join(' ');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.dependencies.deliveryTimeoutMs);
    try {
      const response = await fetch(this.dependencies.control().webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'zenpay-bank-simulator',
          'webhook-id': delivery.webhookId,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body: delivery.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      // The answer's body means nothing to the bank; discard it without reading an unbounded amount.
      await response.body?.cancel().catch(() => undefined);
      return { statusCode: response.status, error: response.ok ? null : `HTTP ${response.status}` };
    } catch (error) {
      if (timedOut) return { statusCode: null, error: `no answer within ${this.dependencies.deliveryTimeoutMs} ms` };
      return { statusCode: null, error: describeError(error) };
    } finally {
      clearTimeout(timer);
    }
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, errorTextLengthMax);
  // fetch reports "fetch failed" and puts the useful part (ECONNREFUSED ...) in the cause.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`.slice(0, errorTextLengthMax);
}
