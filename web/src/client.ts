// urql over HTTP for queries and mutations, and over graphql-ws (the subscription exchange) for live
// updates, both on this origin's /graphql. The socket reconnects by itself with backoff; live.ts
// resumes its subscriptions with `after` once it is back.
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { signedOut, token } from './session';
import { createStore } from './store';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'offline';
export const connection = createStore<Connection>('connecting');

const wsUrl = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
const retryWaitMaxMs = 10_000;

let ws: WsClient | null = null;
const connectedListeners = new Set<() => void>();
const closedListeners = new Set<() => void>();
export const onConnected = (listener: () => void) => (connectedListeners.add(listener), () => connectedListeners.delete(listener));
export const onClosed = (listener: () => void) => (closedListeners.add(listener), () => closedListeners.delete(listener));

/** Opens the socket for the signed-in session (once); closes it on sign-out. */
export function openSocket(): void {
  if (ws) return;
  connection.set('connecting');
  // Events of a socket already replaced (closed on going offline or online) are stale: ignored.
  const created: WsClient = createWsClient({
    url: wsUrl(),
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    keepAlive: 10_000,
    connectionParams: () => ({ authorization: `Bearer ${token() ?? ''}` }),
    // Exponential backoff with jitter, at most 10 s between tries.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(retryWaitMaxMs, 500 * 2 ** retries) * (0.5 + Math.random() / 2))),
    // 4401: signed out or expired; 4403: the token was refused. Neither gets better by retrying.
    shouldRetry: (event) => !(typeof event === 'object' && event !== null && 'code' in event && [4401, 4403].includes((event as CloseEvent).code)),
    onNonLazyError: () => {
      if (ws !== created) return;
      closeSocket();
      signedOut('Your session has ended. Please sign in again.');
    },
    on: {
      connected: () => {
        if (ws !== created) return;
        connection.set('live');
        for (const listener of connectedListeners) listener();
      },
      closed: () => {
        if (ws !== created) return;
        connection.set(navigator.onLine ? 'reconnecting' : 'offline');
        for (const listener of closedListeners) listener();
      },
    },
  });
  ws = created;
}

export function closeSocket(): void {
  const current = ws;
  ws = null;
  if (current) void current.dispose();
}

export const client = new Client({
  url: '/graphql',
  requestPolicy: 'network-only',
  // No document cache: every balance shown was read from the server by this request or pushed by it.
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query ?? '' };
        return {
          subscribe(sink) {
            if (!ws) {
              sink.error(new Error('not connected'));
              return { unsubscribe() {} };
            }
            const dispose = ws.subscribe(input, sink);
            return { unsubscribe: dispose };
          },
        };
      },
    }),
  ],
  fetchOptions: () => {
    const current = token();
    const headers: Record<string, string> = current ? { authorization: `Bearer ${current}` } : {};
    return { headers };
  },
});

// Offline: drop the socket at once rather than wait for pings to fail; online: a fresh one, whose
// subscriptions resume from the last event seen (live.ts).
window.addEventListener('offline', () => {
  if (!ws) return;
  closeSocket();
  connection.set('offline');
  for (const listener of closedListeners) listener();
});
window.addEventListener('online', () => {
  if (!token()) return;
  // A socket begun while offline may hang instead of failing: start again at once.
  if (ws) {
    closeSocket();
    for (const listener of closedListeners) listener();
  }
  openSocket();
});
