// Prints a user's live updates over graphql-ws: every status change of their transactions and every
// wallet change. After a dropped connection it reconnects and resumes from the last cursor it saw,
// so nothing is missed and nothing is shown twice.
// Usage: npm run subscribe -- <token> [after-cursor]   (ZENPAY_GRAPHQL_URL overrides the address)
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

const [token, initialCursor] = process.argv.slice(2);
if (!token) {
  console.error('usage: npm run subscribe -- <token> [after-cursor]');
  process.exit(2);
}
const url = (process.env.ZENPAY_GRAPHQL_URL ?? 'http://127.0.0.1:4000/graphql').replace(/^http/, 'ws');
const reconnectDelayMs = 1_000;

let cursor: string | null = initialCursor ?? null;
let client: Client | null = null;
let reconnecting = false;

function reconnectSoon(reason: unknown): void {
  if (reconnecting) return;
  reconnecting = true;
  console.error(`disconnected (${reason instanceof Error ? reason.message : JSON.stringify(reason)}); resuming after ${cursor ?? 'now'}`);
  void client?.dispose();
  setTimeout(() => {
    reconnecting = false;
    connect();
  }, reconnectDelayMs);
}

function connect(): void {
  client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { connected: () => console.log(`connected to ${url}`) },
  });
  client.subscribe<{ transactionUpdated: { eventCursor: string; transaction: Record<string, string | null> } }>(
    {
      query: `subscription($after: String) { transactionUpdated(after: $after) {
        eventCursor transaction { id kind status direction amount counterparty failureCode } } }`,
      variables: { after: cursor },
    },
    {
      next: ({ data, errors }) => {
        if (errors) console.error('error:', JSON.stringify(errors));
        if (!data) return;
        cursor = data.transactionUpdated.eventCursor;
        const t = data.transactionUpdated.transaction;
        console.log(`transaction ${t.id} ${t.kind} ${t.direction} ${t.amount} ${t.status}${t.failureCode ? ` (${t.failureCode})` : ''}`);
      },
      error: reconnectSoon,
      complete: () => reconnectSoon('completed'),
    },
  );
  client.subscribe<{ walletUpdated: { available: string; held: string } }>(
    { query: 'subscription { walletUpdated { available held } }' },
    {
      next: ({ data }) => data && console.log(`wallet available=${data.walletUpdated.available} held=${data.walletUpdated.held}`),
      error: reconnectSoon,
      complete: () => {},
    },
  );
}

connect();
process.on('SIGINT', () => {
  void client?.dispose();
  process.exit(0);
});
