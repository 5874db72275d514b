// Wakes this API instance's waiters when PostgreSQL announces new events (LISTEN/NOTIFY). Waiters read
// the events themselves from the outbox by cursor, so a lost notification can only delay, never lose.
import pg from 'pg';
import type { Logger } from '../common/log';
import { eventsChannel, parseAnnouncement } from '../db/events';
import { sessionsChannel } from './auth';

type Waker = () => void;

const reconnectDelayMsMax = 5_000;

export class EventHub {
  private readonly wakersByUser = new Map<string, Set<Waker>>();
  private readonly wakersByTransaction = new Map<string, Set<Waker>>();
  private readonly revocationListeners = new Set<(tokenHashHex: string) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private client: pg.Client | null = null;
  private stopped = false;
  private reconnectDelayMs = 100;
  private connectedOnce: Promise<void>;
  private resolveConnected!: () => void;

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
  ) {
    this.connectedOnce = new Promise((resolve) => (this.resolveConnected = resolve));
  }

  /** Starts listening; resolves once the first LISTEN is in place. */
  async start(): Promise<void> {
    // No periodic wake-up of everyone: each waiter re-reads on its own idle timeout (staggered), and
    // everyone is woken after a reconnect, when notifications may have been missed.
    void this.connect();
    await this.connectedOnce;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeEveryone();
    await this.client?.end().catch(() => {});
  }

  get listening(): boolean {
    return this.client !== null;
  }

  /** Registers a waker for a user's stream; returns the function that removes it. */
  watch(userId: string, wake: Waker): () => void {
    return register(this.wakersByUser, userId, wake);
  }

  /** Registers a waker for one transaction's changes (and every reconnect); returns its remover. */
  watchTransaction(transactionId: string, wake: Waker): () => void {
    return register(this.wakersByTransaction, transactionId, wake);
  }

  onSessionRevoked(listener: (tokenHashHex: string) => void): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** Called after each LISTEN is back in place: revocations announced meanwhile were missed. */
  onReconnected(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private async connect(): Promise<void> {
    while (!this.stopped) {
      const client = new pg.Client({ connectionString: this.connectionString, application_name: 'zenpay-api-listen' });
      try {
        await client.connect();
        client.on('notification', (message) => this.dispatch(message));
        client.on('error', (error) => this.lost(client, error));
        client.on('end', () => this.lost(client, new Error('connection ended')));
        await client.query(`LISTEN ${eventsChannel}`);
        await client.query(`LISTEN ${sessionsChannel}`);
        this.client = client;
        this.reconnectDelayMs = 100;
        this.resolveConnected();
        // Anything committed while no LISTEN was in place is caught up now.
        this.wakeEveryone();
        for (const listener of this.reconnectListeners) listener();
        return;
      } catch (error) {
        await client.end().catch(() => {});
        this.log.warn({ err: error, retryInMs: this.reconnectDelayMs }, 'event listener cannot connect; retrying');
        await new Promise((resolve) => setTimeout(resolve, this.reconnectDelayMs));
        this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, reconnectDelayMsMax);
      }
    }
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.stopped) return;
    this.log.warn({ err: error }, 'event listener lost its connection; reconnecting');
    client.end().catch(() => {});
    void this.connect();
  }

  private dispatch(message: pg.Notification): void {
    if (message.channel === sessionsChannel) {
      for (const listener of this.revocationListeners) listener(message.payload ?? '');
      return;
    }
    for (const { userId, transactionId } of parseAnnouncement(message.payload ?? '')) {
      for (const wake of this.wakersByUser.get(userId) ?? []) wake();
      if (transactionId) for (const wake of this.wakersByTransaction.get(transactionId) ?? []) wake();
    }
  }

  private wakeEveryone(): void {
    for (const registry of [this.wakersByUser, this.wakersByTransaction]) {
      for (const wakers of registry.values()) for (const wake of wakers) wake();
    }
  }
}

function register(registry: Map<string, Set<Waker>>, key: string, wake: Waker): () => void {
  let wakers = registry.get(key);
  if (!wakers) registry.set(key, (wakers = new Set()));
  wakers.add(wake);
  return () => {
    wakers.delete(wake);
    if (wakers.size === 0) registry.delete(key);
  };
}

/**
 * A latch that a waker sets and a reader waits on; several wakes while the reader is busy collapse
 * into one, and a wake that comes before the wait is not lost.
 */
export class WakeSignal {
  private woken = false;
  private resolveWait: (() => void) | null = null;

  readonly wake = (): void => {
    this.woken = true;
    this.resolveWait?.();
  };

  /** Waits for a wake (or the timeout); returns at once if one came since the last wait. */
  async wait(timeoutMs: number): Promise<void> {
    if (!this.woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.resolveWait = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.woken = false;
    this.resolveWait = null;
  }
}
