// The live view of the signed-in user's wallet and transactions: read from the server, then kept up to
// date by the transactionUpdated and walletUpdated subscriptions. After any disconnect the stream resumes
// with `after` = the last eventCursor seen (no gap, no duplicate) and the wallet is read again, since
// walletUpdated does not replay. Nothing here is ever computed locally: every figure came from the server.
import { client, closeSocket, onClosed, onConnected, openSocket } from './client';
import { TransactionFields } from './fragments';
import { graphql, readFragment, type ResultOf } from './graphql';
import { createStore } from './store';

export type Transaction = ResultOf<typeof TransactionFields>;
export interface Wallet {
  available: string;
  held: string;
  updatedAt: string;
}
export interface TimelineEntry {
  status: string;
  at: string;
}
export interface LiveState {
  wallet: Wallet | null;
  /** When the wallet shown was last confirmed by the server. */
  walletReadAt: Date | null;
  byId: Record<string, Transaction>;
  /** The newest transactions' ids, newest first. */
  recent: string[];
  /** Status changes pushed by the server, per transaction, oldest first. */
  timelines: Record<string, TimelineEntry[]>;
  error: string | null;
}

const recentMax = 10;
const empty: LiveState = { wallet: null, walletReadAt: null, byId: {}, recent: [], timelines: {}, error: null };
export const live = createStore<LiveState>(empty);

const OverviewQuery = graphql(
  `query Overview($first: Int!) {
    viewer { wallet { available held updatedAt } }
    transactions(first: $first) { edges { node { ...TransactionFields } } }
  }`,
  [TransactionFields],
);
const TransactionUpdated = graphql(
  `subscription TransactionUpdated($after: String) {
    transactionUpdated(after: $after) { eventCursor occurredAt transaction { ...TransactionFields } }
  }`,
  [TransactionFields],
);
const WalletUpdated = graphql(`subscription WalletUpdated { walletUpdated { available held updatedAt } }`);

let lastCursor: string | null = null;
const seenCursors = new Set<string>();
let subscriptions: Array<{ unsubscribe(): void }> = [];
let stops: Array<() => void> = [];

const newer = (a: string, b: string) => Date.parse(a) >= Date.parse(b);

// Pushed events arrive in commit order, so the latest always wins (timestamps are taken when a database
// transaction starts, not when it commits, so they cannot order states). A read answers as of some moment
// after it was sent: it is kept only if no event arrived for the same thing since it was sent.
let eventNumber = 0;
let walletEventNumber = 0;
const transactionEventNumber = new Map<string, number>();
export const readStarted = (): number => eventNumber;

function applyWallet(wallet: Wallet, readSince: number | null): void {
  if (readSince === null) walletEventNumber = ++eventNumber;
  else if (walletEventNumber > readSince) return live.set((state) => ({ ...state, walletReadAt: new Date() }));
  live.set((state) => ({ ...state, wallet, walletReadAt: new Date() }));
}

/** A transaction from an event (event set) or a read started at readSince (else: kept unless older). */
export function applyTransaction(transaction: Transaction, event?: { at: string }, readSince?: number): void {
  if (event) transactionEventNumber.set(transaction.id, ++eventNumber);
  live.set((state) => {
    const known = state.byId[transaction.id];
    const eventSince = (transactionEventNumber.get(transaction.id) ?? 0) > (readSince ?? Number.POSITIVE_INFINITY);
    const keep = event || !known ? transaction : eventSince || !newer(transaction.updatedAt, known.updatedAt) ? known : transaction;
    const recent = state.recent.includes(transaction.id) ? state.recent : [transaction.id, ...state.recent].slice(0, recentMax);
    const timeline = state.timelines[transaction.id] ?? [];
    const timelines = event && !timeline.some((entry) => entry.status === transaction.status && entry.at === event.at)
      ? { ...state.timelines, [transaction.id]: [...timeline, { status: transaction.status, at: event.at }] }
      : state.timelines;
    return { ...state, byId: { ...state.byId, [transaction.id]: keep }, recent, timelines };
  });
}

async function readOverview(): Promise<void> {
  const since = readStarted();
  const result = await client.query(OverviewQuery, { first: recentMax }).toPromise();
  if (!result.data) return;
  if (result.data.viewer) applyWallet(result.data.viewer.wallet, since);
  const nodes = result.data.transactions.edges.map((edge) => readFragment(TransactionFields, edge.node));
  live.set((state) => {
    const byId = { ...state.byId };
    for (const node of nodes) {
      const known = byId[node.id];
      const eventSince = (transactionEventNumber.get(node.id) ?? 0) > since;
      if (!known || (!eventSince && newer(node.updatedAt, known.updatedAt))) byId[node.id] = node;
    }
    const ids = [...nodes.map((node) => node.id), ...state.recent.filter((id) => !nodes.some((node) => node.id === id))];
    ids.sort((a, b) => Date.parse(byId[b]!.createdAt) - Date.parse(byId[a]!.createdAt));
    return { ...state, byId, recent: ids.slice(0, recentMax), error: null };
  });
}

function subscribe(): void {
  unsubscribe();
  subscriptions.push(
    client.subscription(TransactionUpdated, { after: lastCursor }).subscribe((result) => {
      const code = result.error?.graphQLErrors[0]?.extensions?.reason;
      if (code === 'CURSOR_PRUNED') {
        // Too old to replay: read everything again and follow from now.
        lastCursor = null;
        void readOverview().then(subscribe);
        return;
      }
      const event = result.data?.transactionUpdated;
      if (!event || seenCursors.has(event.eventCursor)) return;
      seenCursors.add(event.eventCursor);
      lastCursor = event.eventCursor;
      applyTransaction(readFragment(TransactionFields, event.transaction), { at: event.occurredAt });
    }),
    client.subscription(WalletUpdated, {}).subscribe((result) => {
      if (result.data) applyWallet(result.data.walletUpdated, null);
    }),
  );
}

function unsubscribe(): void {
  for (const subscription of subscriptions) subscription.unsubscribe();
  subscriptions = [];
}

/** Starts following the signed-in user: the socket, the subscriptions, a first read. */
export function startLive(): void {
  if (stops.length) return;
  stops = [
    onConnected(() => {
      subscribe();
      // Read after subscribing, so nothing committed in between is missed (the newer copy wins).
      void readOverview();
    }),
    onClosed(unsubscribe),
  ];
  openSocket();
}

export function stopLive(): void {
  for (const stop of stops) stop();
  stops = [];
  unsubscribe();
  closeSocket();
  lastCursor = null;
  seenCursors.clear();
  transactionEventNumber.clear();
  live.set(empty);
}

/** Reads the wallet and recent activity again (e.g. after a payment answered). */
export const refreshOverview = readOverview;
