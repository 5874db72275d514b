// The simulated clients' side of the public API: GraphQL over keep-alive HTTP with a deadline, and one
// graphql-ws socket per user whose final transaction events are matched to the operations waiting for them.
import http from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

export interface GraphQLResult<T> {
  status: number;
  data?: T | null;
  errors?: GraphQLError[];
}

/** A failure before a GraphQL answer: a timeout, a refused or reset connection, a non-JSON body. */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const responseBytesMax = 1024 * 1024;

/** GraphQL over HTTP on a pool of keep-alive sockets (lighter than fetch, so the client steals less CPU). */
export class GraphQLHttpClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(graphqlUrl: string, socketsMax: number) {
    this.url = new URL(graphqlUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: socketsMax, maxFreeSockets: socketsMax });
  }

  request<T>(query: string, variables: Record<string, unknown>, token: string | null, timeoutMs: number): Promise<GraphQLResult<T>> {
    const body = JSON.stringify({ query, variables });
    return new Promise((resolve, reject) => {
      const request = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          timeout: timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > responseBytesMax) request.destroy(new TransportError('RESPONSE_TOO_LARGE', `more than ${responseBytesMax} bytes`));
            else chunks.push(chunk);
          });
          response.on('end', () => {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<GraphQLResult<T>, 'status'>;
              resolve({ status: response.statusCode ?? 0, ...parsed });
            } catch {
              reject(new TransportError(`HTTP_${response.statusCode}`, 'the answer is not JSON'));
            }
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new TransportError('HTTP_TIMEOUT', `no answer in ${timeoutMs} ms`)));
      request.on('error', (error: NodeJS.ErrnoException) =>
        reject(error instanceof TransportError ? error : new TransportError(error.code ?? 'TRANSPORT_ERROR', error.message)),
      );
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface FinalEvent {
  status: string;
  failureCode: string | null;
  /** performance.now() when the event arrived. */
  atMs: number;
}

/** Events seen before the mutation's answer named their transaction are kept this long in number. */
const earlyEventsMax = 200_000;

/**
 * Matches final transaction events to the operations waiting for them. An event may come before the
 * mutation's answer (which is when the client learns the transaction id), so early ones are kept.
 */
export class CompletionTracker {
  private readonly early = new Map<string, FinalEvent>();
  private readonly waiting = new Map<string, (event: FinalEvent | null) => void>();

  record(transactionId: string, event: FinalEvent): void {
    const waiter = this.waiting.get(transactionId);
    if (waiter) {
      this.waiting.delete(transactionId);
      waiter(event);
      return;
    }
    if (this.early.has(transactionId)) return;
    if (this.early.size >= earlyEventsMax) this.early.delete(this.early.keys().next().value!);
    this.early.set(transactionId, event);
  }

  /** The final event of a transaction, or null when none came within timeoutMs. */
  wait(transactionId: string, timeoutMs: number): Promise<FinalEvent | null> {
    const seen = this.early.get(transactionId);
    if (seen) {
      this.early.delete(transactionId);
      return Promise.resolve(seen);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(transactionId);
        resolve(null);
      }, timeoutMs);
      this.waiting.set(transactionId, (event) => {
        clearTimeout(timer);
        resolve(event);
      });
    });
  }

  /** Forgets everything (between phases); whoever still waits gets null. */
  clear(): void {
    for (const waiter of this.waiting.values()) waiter(null);
    this.waiting.clear();
    this.early.clear();
  }
}

type TransactionEvent = {
  transactionUpdated: { transaction: { id: string; kind: string; status: string; direction: string; failureCode: string | null } };
};

const finalStatuses = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);
const subscriptionQuery = `subscription { transactionUpdated { transaction { id kind status direction failureCode } } }`;
const connectTimeoutMs = 10_000;

export interface SubscribedUser {
  client: Client;
  dispose(): Promise<void>;
}

/**
 * Opens one user's socket and subscribes to their transaction events; resolves once the server
 * accepted the connection. Only the paying side's final events count (the payee's are the same
 * transaction seen from the other end).
 */
export async function subscribeUser(graphqlUrl: string, token: string, tracker: CompletionTracker, onError: (code: string) => void): Promise<SubscribedUser> {
  let connected!: () => void;
  let failed!: (error: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    connected = resolve;
    failed = reject;
  });
  const client = createClient({
    url: graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: failed,
    on: { connected: () => connected() },
  });
  client.subscribe<TransactionEvent>(
    { query: subscriptionQuery },
    {
      next: ({ data, errors }) => {
        if (errors) onError(errors[0]?.extensions?.code as string ?? 'SUBSCRIPTION_ERROR');
        const transaction = data?.transactionUpdated.transaction;
        if (!transaction || !finalStatuses.has(transaction.status)) return;
        if (transaction.kind === 'TRANSFER' && transaction.direction !== 'DEBIT') return;
        tracker.record(transaction.id, { status: transaction.status, failureCode: transaction.failureCode, atMs: performance.now() });
      },
      error: () => onError('SUBSCRIPTION_CLOSED'),
      complete: () => {},
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no WebSocket connection to ${graphqlUrl} in ${connectTimeoutMs} ms`)), connectTimeoutMs);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (error) {
    await client.dispose();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { client, dispose: () => Promise.resolve(client.dispose()) };
}
