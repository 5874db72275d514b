// What the load is sent to: ZenPAY through its API (a workflow per payment), the api-direct API (the
// same GraphQL, the ledger posted in the request), or direct-sql (one SQL transaction, no API).
// Each turns an operation into an outcome stamped with when its completion reached the client.
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { noopActivities } from './noop/activities';
import { noopWorkerTuning } from './noop/tuning';
import type { Pool } from '../db/pool';
import { CompletionTracker, GraphQLHttpClient, TransportError, subscribeUser, type SubscribedUser } from './api-client';
import { directErrorCode, directTransfer } from './direct-sql';
import type { TargetName } from './options';
import { mapBounded, type BenchUser } from './users';

export type Operation =
  | { kind: 'transfer'; from: BenchUser; to: BenchUser; amountMinor: bigint }
  | { kind: 'on-ramp'; user: BenchUser; bank: string; amountMinor: bigint };

export type Outcome =
  | { ok: true; finishedAtMs: number; responseMs: number | null; answeredPending: boolean }
  | { ok: false; finishedAtMs: number; responseMs: number | null; code: string; message: string };

export interface Target {
  name: TargetName;
  execute(operation: Operation, timeoutMs: number): Promise<Outcome>;
  /** Errors outside any one operation (e.g. a subscription closed by the server), by code. */
  backgroundErrors: Map<string, number>;
  close(): Promise<void>;
}

const finalStatuses = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);
const sendMoneyMutation = `mutation Send($input: SendMoneyInput!) { sendMoney(input: $input) { id status failureCode } }`;
const addMoneyMutation = `mutation Add($input: AddMoneyInput!) { addMoney(input: $input) { id status failureCode } }`;
const subscribeConcurrency = 16;

type Payment = { id: string; status: string; failureCode: string | null };

const failure = (code: string, message: string, responseMs: number | null = null): Outcome => ({
  ok: false,
  finishedAtMs: performance.now(),
  responseMs,
  code,
  message,
});

/**
 * A target behind the public GraphQL API: every participating user subscribed on its own socket, a
 * mutation per operation, and the operation done when its final event arrives on the subscription.
 */
export async function createApiTarget(name: 'zenpay' | 'api-direct', graphqlUrl: string, users: readonly BenchUser[], socketsMax: number): Promise<Target> {
  const tracker = new CompletionTracker();
  const backgroundErrors = new Map<string, number>();
  let closing = false;
  const onError = (code: string) => {
    if (!closing) backgroundErrors.set(code, (backgroundErrors.get(code) ?? 0) + 1);
  };
  const sockets: SubscribedUser[] = [];
  const http = new GraphQLHttpClient(graphqlUrl, socketsMax);
  const close = async () => {
    closing = true;
    tracker.clear();
    http.close();
    await Promise.all(sockets.map((socket) => socket.dispose()));
  };
  try {
    await mapBounded(users, subscribeConcurrency, async (user) => {
      sockets.push(await subscribeUser(graphqlUrl, user.token, tracker, onError));
    });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    name,
    backgroundErrors,
    close,
    async execute(operation, timeoutMs) {
      const sentAtMs = performance.now();
      const [query, field, token, input] =
        operation.kind === 'transfer'
          ? [sendMoneyMutation, 'sendMoney', operation.from.token, { toPhone: operation.to.phone, amount: String(operation.amountMinor) }]
          : [addMoneyMutation, 'addMoney', operation.user.token, { bank: operation.bank, amount: String(operation.amountMinor) }];
      let payment: Payment;
      let responseMs: number;
      const variables = { input: { ...input, idempotencyKey: randomUUID() } };
      try {
        const response = await http
          .request<Record<string, Payment>>(query, variables, token, timeoutMs)
          // A kept-alive socket may be closed by the server just as it is reused: like any HTTP client,
          // send again once. The same idempotency key makes the retry the same payment.
          .catch((error: unknown) => {
            if (error instanceof TransportError && error.code === 'ECONNRESET') {
              return http.request<Record<string, Payment>>(query, variables, token, Math.max(1, timeoutMs - (performance.now() - sentAtMs)));
            }
            throw error;
          });
        responseMs = performance.now() - sentAtMs;
        const error = response.errors?.[0];
        if (error) return failure(error.extensions?.code ?? `HTTP_${response.status}`, error.message, responseMs);
        payment = response.data![field]!;
      } catch (error) {
        if (error instanceof TransportError) return failure(error.code, error.message);
        throw error;
      }
      if (payment.status === 'FAILED' || payment.status === 'EXPIRED') {
        return failure(payment.failureCode ?? payment.status, `answered ${payment.status}`, responseMs);
      }
      // A transfer's mutation waits for the final status: still PENDING means that wait ran out.
      const answeredPending = operation.kind === 'transfer' && !finalStatuses.has(payment.status);
      const event = await tracker.wait(payment.id, Math.max(1, timeoutMs - (performance.now() - sentAtMs)));
      if (!event) return failure('COMPLETION_TIMEOUT', `no final event for ${payment.id} in ${timeoutMs} ms`, responseMs);
      if (event.status !== 'COMPLETED') return failure(event.failureCode ?? event.status, `ended ${event.status}`, responseMs);
      return { ok: true, finishedAtMs: event.atMs, responseMs, answeredPending };
    },
  };
}

/** The operation's outcome, or a failure with this code once timeoutMs has passed without one. */
async function outcomeWithin(outcome: Promise<Outcome>, timeoutMs: number, code: string, message: string): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve(failure(code, message)), timeoutMs);
  });
  try {
    return await Promise.race([outcome, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The direct-sql baseline: each operation one SQL transaction on the bench's own accounts. */
export function createDirectTarget(pool: Pool, accountOf: (user: BenchUser) => bigint, clearingAccountOf: (bank: string) => bigint): Target {
  return {
    name: 'direct-sql',
    backgroundErrors: new Map(),
    async close() {},
    async execute(operation, timeoutMs) {
      const [debit, credit] =
        operation.kind === 'transfer'
          ? [accountOf(operation.from), accountOf(operation.to)]
          : [clearingAccountOf(operation.bank), accountOf(operation.user)];
      const transfer = directTransfer(pool, debit, credit, operation.amountMinor).then(
        (): Outcome => ({ ok: true, finishedAtMs: performance.now(), responseMs: null, answeredPending: false }),
        (error: unknown) => failure(directErrorCode(error), (error as Error).message),
      );
      return outcomeWithin(transfer, timeoutMs, 'CLIENT_TIMEOUT', `no commit in ${timeoutMs} ms`);
    },
  };
}

/**
 * The noop-workflow baseline, Temporal's floor: each operation starts a workflow that runs one no-op
 * local activity (bench/noop) and waits for its result, through the same native client the API uses,
 * run by a worker process with ZenPAY's worker settings. The operation itself is ignored.
 */
export async function createNoopWorkflowTarget(temporalAddress: string, taskQueue: string, eager = false): Promise<Target> {
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  // As ZenPAY runs with API_EAGER_START: a worker in the starting process, on its connection, and eager starts.
  const local = eager ? await startLocalNoopWorker(connection, taskQueue) : null;
  return {
    name: 'noop-workflow',
    backgroundErrors: new Map(),
    async close() {
      await local?.stop();
      await connection.close();
    },
    async execute(_operation, timeoutMs) {
      const run = client.workflow
        .execute('noopWorkflow', { taskQueue, workflowId: `bench-noop-${randomUUID()}`, args: [], ...(eager ? { requestEagerStart: true } : {}) })
        .then(
          (): Outcome => ({ ok: true, finishedAtMs: performance.now(), responseMs: null, answeredPending: false }),
          (error: unknown) => failure((error as { name?: string }).name ?? 'WORKFLOW_ERROR', (error as Error).message),
        );
      return outcomeWithin(run, timeoutMs, 'COMPLETION_TIMEOUT', `no result in ${timeoutMs} ms`);
    },
  };
}

async function startLocalNoopWorker(connection: NativeConnection, taskQueue: string) {
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('./noop/workflows'),
    activities: noopActivities,
    ...noopWorkerTuning(),
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}
