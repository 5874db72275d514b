// A graphql-ws client for tests: a real WebSocket to the API, events collected as they arrive, and a
// way to wait for the next N of them.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscription<T> {
  events: T[];
  /** Resolves once at least `count` events arrived in total (rejects on timeout or error). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  /** The close or error that ended the subscription, if any. */
  ended: Promise<{ code?: number; reason?: string; error?: unknown }>;
  dispose(): Promise<void>;
}

export function wsUrl(graphqlUrl: string): string {
  return graphqlUrl.replace(/^http/, 'ws');
}

export function connect(graphqlUrl: string, token: string | null, options: { origin?: string } = {}): { client: Client; closed: Promise<{ code: number; reason: string }> } {
  let resolveClosed!: (value: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  class OriginWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, options.origin ? { origin: options.origin } : {});
    }
  }
  const client = createClient({
    url: wsUrl(graphqlUrl),
    webSocketImpl: OriginWebSocket,
    connectionParams: token === null ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
    on: { closed: (event) => resolveClosed({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }) },
  });
  return { client, closed };
}

export function subscribe<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}): Subscription<T> {
  const events: T[] = [];
  const waiters: Array<() => void> = [];
  let failure: unknown;
  let resolveEnded!: (value: { code?: number; reason?: string; error?: unknown }) => void;
  const ended = new Promise<{ code?: number; reason?: string; error?: unknown }>((resolve) => (resolveEnded = resolve));
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) failure = value.errors;
        if (value.data) events.push(value.data as T);
        for (const wake of waiters.splice(0)) wake();
      },
      error: (error) => {
        failure = error;
        const closeEvent = error as { code?: number; reason?: string };
        resolveEnded({ code: closeEvent.code, reason: closeEvent.reason, error });
        for (const wake of waiters.splice(0)) wake();
      },
      complete: () => resolveEnded({}),
    },
  );
  return {
    events,
    ended,
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (failure) throw new Error(`subscription failed: ${JSON.stringify(failure)}`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`waited for ${count} events, got ${events.length}: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return events;
    },
    async dispose() {
      unsubscribe();
    },
  };
}
