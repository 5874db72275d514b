// The cluster profile scales out and survives crashes: on a fresh cluster (the Temporal server proper on
// PostgreSQL with 1, then 4 history shards; two API processes sharing one address; two workers; real
// processes throughout), users add money and send it to each other through both API processes while one
// worker and then one API process are SIGKILLed (the supervisor restarts them, as `npm start` does). Each
// user sends through one API process and follows its transactions over graphql-ws on the other. Once quiet:
// the ledger sums to zero, every accepted payment is final once with exactly its ledger movements and one
// completed workflow run, every wallet equals what its owner was told, and every subscriber received every
// final status of theirs exactly once, through the API process that did not take the payment. Every process
// (Temporal server included) serves its own /metrics.
import { Client, Connection } from '@temporalio/client';
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import pg from 'pg';
import { workflowIdFor, type TransactionKind } from '../common/transactions';
import { ledgerTransferId } from '../db/ledger';
import { createPool, type Pool } from '../db/pool';
import { DrillClient, type AcceptedPayment } from '../drill/client';
import { waitUntilQuiet } from '../drill/quiet';
import { controlBank } from '../test/bank';
import { signUpUser, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startLocalCluster, type ClusterStack } from './cluster';
import { generousRateLimits } from './generous-limits';
import { superviseRestarts } from './supervise';
import { ensureTemporalServer } from './temporal-cluster';

jest.setTimeout(300_000);

const users = 8;
const transfersPerUser = 10;
const onRampMinor = 200_000n;
const taskQueue = 'zenpay-payments';
const finalStatuses = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);

interface Run {
  cluster: ClusterStack & { dataDir: string };
  pool: Pool;
  temporal: Client;
  clients: DrillClient[];
  restarts: string[];
  passed: boolean;
}

// A fresh machine builds the Temporal server first (scripts/ensure-temporal-server.sh; minutes, once).
beforeAll(() => {
  ensureTemporalServer();
}, 45 * 60_000);

describe.each([1, 4])('cluster profile | fresh cluster with %i history shard(s)', (historyShards) => {
  let run: Run | null = null;
  let stopping = false;

  afterAll(async () => {
    stopping = true;
    for (const client of run?.clients ?? []) await client.close();
    await run?.temporal.connection.close();
    await run?.pool.end();
    await run?.cluster.stop();
    // The data and logs stay for a look when the test failed.
    if (run?.passed) rmSync(run.cluster.dataDir, { recursive: true, force: true });
  });

  test('load through both API processes, a worker and an API process SIGKILLed | nothing lost or duplicated, every event seen across processes', async () => {
    const log = (line: string) => process.stderr.write(`[cluster ${historyShards}] ${line}\n`);
    const cluster = await startLocalCluster({
      prefix: `zenpay-cluster-${historyShards}`,
      historyShards,
      serviceEnv: { ...generousRateLimits, LOG_LEVEL: 'warn', MUTATION_WAIT_MS: '2000', RECONCILE_INTERVAL_MS: '2000', RECONCILE_STALE_AFTER_MS: '5000' },
    });
    const restarts: string[] = [];
    const unsupervise = superviseRestarts([...cluster.apis, ...cluster.workers], {
      say: (message) => {
        restarts.push(message);
        log(message);
      },
      stopping: () => stopping,
      restartDelayMsMax: 2_000,
    });
    const pool = createPool({ connectionString: cluster.databaseUrl, max: 4, applicationName: 'zenpay-cluster-test' });
    const temporal = new Client({ connection: await Connection.connect({ address: cluster.temporalAddress }) });
    run = { cluster, pool, temporal, clients: [], restarts, passed: false };

    // The server runs with the asked shard count, recorded in its own database.
    expect(cluster.historyShards).toBe(historyShards);
    expect(await temporalShardRows(cluster)).toBe(historyShards);

    // Users sign up through the shared address; each then sends through one API process and listens on the other.
    const [apiA, apiB] = cluster.urls.apiGraphql as [string, string];
    const signedUp: TestUser[] = [];
    for (let index = 0; index < users; index++) signedUp.push(await signUpUser(cluster.urls.graphql, `Cluster ${index}`, cluster.urls.smsSim));
    const phoneToUserId = new Map(signedUp.map((user) => [user.phone, user.id]));
    const clients = signedUp.map((user, index) =>
      index % 2 === 0 ? new DrillClient(user, apiB, phoneToUserId, apiA) : new DrillClient(user, apiA, phoneToUserId, apiB),
    );
    run.clients = clients;
    for (const client of clients) client.follow();
    await controlBank(cluster.urls.bankSim, { autoApprovePaymentsMs: 50 });
    await expectEveryProcessServesMetrics(cluster);

    // The load, and the crashes in the middle of it (SIGKILL from outside, so the supervisor sees a crash).
    let accepted = 0;
    const sharedAddressAnswers: number[] = [];
    const total = users * (1 + transfersPerUser);
    const kills = (async () => {
      await until(() => accepted >= total * 0.3, 120_000);
      log(`SIGKILL worker-1 after ${accepted} of ${total} payments`);
      process.kill(cluster.workers[0]!.pid!, 'SIGKILL');
      await until(() => accepted >= total * 0.6, 120_000);
      log(`SIGKILL api-1 after ${accepted} of ${total} payments`);
      process.kill(cluster.apis[0]!.pid!, 'SIGKILL');
      // The shared address goes on answering at once: the kernel hands new connections to the live process only.
      // Once api-1 is gone (its exit seen; the supervisor restarts it only a second later, and the start takes
      // seconds). Until then the kernel may still queue a connection on its socket, reset when it dies.
      await until(() => !cluster.apis[0]!.running, 10_000);
      for (let attempt = 0; attempt < 5; attempt++) sharedAddressAnswers.push(await statusOnNewConnection(cluster.urls.health));
    })();
    await Promise.all([
      kills,
      ...clients.map(async (client) => {
        const funded = await client.send(client.newRequest('ON_RAMP', String(onRampMinor), { bank: 'HDFC' }));
        if (funded.accepted) accepted += 1;
        for (let index = 0; index < transfersPerUser; index++) {
          const others = signedUp.filter((user) => user.id !== client.user.id);
          const outcome = await client.send(client.newRequest('TRANSFER', String(randomInt(100, 60_000)), { toPhone: others[randomInt(0, others.length)]!.phone }));
          if (outcome.accepted) accepted += 1;
        }
      }),
    ]);
    log(`load done: ${accepted} payments accepted`);
    expect(accepted).toBe(total);
    expect(sharedAddressAnswers).toEqual([200, 200, 200, 200, 200]);

    // Quiet: every transaction final, nothing held, no payment workflow running; the crashed processes back.
    const quiet = await waitUntilQuiet({ pool, temporal, taskQueue, bankUrl: cluster.urls.bankSim }, 3_000, 120_000, log);
    expect(quiet).toEqual({ unfinished: [], openHolds: [], refundsUndecided: [], runningWorkflows: [], pendingDeliveries: 0 });
    await until(() => [...cluster.apis, ...cluster.workers].every((part) => part.running), 60_000);
    expect(restarts.filter((line) => /exited unexpectedly/.test(line)).map((line) => line.split(' ')[0])).toEqual(['worker-1', 'api-1']);
    const payments = clients.flatMap((client) => [...client.accepted.values()]);
    await waitForFinalEvents(clients, payments, pool, 30_000);
    unsupervise();

    await expectCleanLedger(pool);
    await expectTotalsConservedAndOnlyUnaffordableTransfersFailed(pool);
    await expectEachPaymentFinalOnceWithItsMovements(pool, payments);
    await expectOneCompletedRunEach(temporal, pool);
    await expectWalletsMatchWhatUsersWereTold(pool, clients);
    await expectSubscribersSawEveryFinalStatusOnce(pool, clients, payments);
    const statuses = await statusCounts(pool);
    log(`checked: ${JSON.stringify(statuses)}`);
    expect(statuses.COMPLETED).toBeGreaterThan(users);
    run.passed = true;
  });
});

/** Every process of the cluster answers its own /metrics, each with a figure of its kind. */
async function expectEveryProcessServesMetrics(cluster: ClusterStack): Promise<void> {
  expect(Object.keys(cluster.metricsUrls).sort()).toEqual(['api-1', 'api-2', 'bank-sim', 'sms-sim', 'temporal', 'worker-1', 'worker-2']);
  const expected: Record<string, RegExp> = {
    api: /^zenpay_db_pool_connections\{pool="api"\} \d+$/m,
    worker: /^zenpay_db_pool_connections\{pool="worker"\} \d+$/m,
    // Each simulator has answered requests by now: sign-ups' SMS, the bank's control call.
    'bank-sim': /^zenpay_http_requests_total\{method="POST",status="\d+"\} [1-9]/m,
    'sms-sim': /^zenpay_http_requests_total\{method="POST",status="\d+"\} [1-9]/m,
    temporal: /^service_requests\{/m,
  };
  const ports = new Set<string>();
  for (const [name, url] of Object.entries(cluster.metricsUrls)) {
    const response = await fetch(url);
    expect({ name, status: response.status }).toEqual({ name, status: 200 });
    expect({ name, text: await response.text() }).toEqual({ name, text: expect.stringMatching(expected[name.replace(/-\d+$/, '')]!) });
    ports.add(new URL(url).port);
  }
  expect(ports.size).toBe(7);
}

/** GET on a connection of its own (fetch would reuse a pooled one, perhaps to the process just killed). */
async function statusOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', reject);
  });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The history shards Temporal created in its own database (one row per shard, written as history owns it). */
async function temporalShardRows(cluster: ClusterStack): Promise<number> {
  const url = new URL(cluster.databaseUrl);
  url.pathname = '/temporal';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      const { rows } = await client.query<{ count: number }>('SELECT count(*)::int AS count FROM shards');
      if (rows[0]!.count > 0 || attempt >= 100) return rows[0]!.count;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await client.end();
  }
}

interface TransactionRow {
  id: string;
  kind: TransactionKind;
  status: string;
  amount: bigint;
  user_id: string;
  counterparty_user_id: string | null;
}

async function transactionRows(pool: Pool): Promise<TransactionRow[]> {
  const { rows } = await pool.query<TransactionRow>('SELECT id, kind, status, amount, user_id, counterparty_user_id FROM transactions');
  return rows;
}

async function statusCounts(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; count: number }>('SELECT status, count(*)::int AS count FROM transactions GROUP BY status');
  return Object.fromEntries(rows.map((row) => [row.status, row.count]));
}

/** The wallets hold what was added from banks, no more, no less; the crashes failed no payment. */
async function expectTotalsConservedAndOnlyUnaffordableTransfersFailed(pool: Pool): Promise<void> {
  const { rows: totals } = await pool.query<{ wallets: bigint; added: bigint }>(
    `SELECT (SELECT COALESCE(sum(credits_posted - debits_posted), 0) FROM ledger_accounts WHERE kind = 'wallet')::bigint AS wallets,
            (SELECT COALESCE(sum(amount), 0) FROM transactions WHERE kind = 'ON_RAMP' AND status = 'COMPLETED')::bigint AS added`,
  );
  expect(totals[0]!.wallets).toBe(totals[0]!.added);
  expect(totals[0]!.added).toBe(BigInt(users) * onRampMinor);
  const { rows: failures } = await pool.query<{ kind: string; failure_code: string | null; count: number }>(
    `SELECT kind, failure_code, count(*)::int AS count FROM transactions WHERE status <> 'COMPLETED' GROUP BY kind, failure_code`,
  );
  expect(failures.filter((row) => !(row.kind === 'TRANSFER' && row.failure_code === 'INSUFFICIENT_FUNDS'))).toEqual([]);
}

/** Exactly the accepted payments exist, each final, each with exactly the ledger movements of its outcome. */
async function expectEachPaymentFinalOnceWithItsMovements(pool: Pool, payments: readonly AcceptedPayment[]): Promise<void> {
  const rows = await transactionRows(pool);
  expect(rows.map((row) => row.id).sort()).toEqual(payments.map((payment) => payment.id).sort());
  expect(rows.filter((row) => !finalStatuses.has(row.status))).toEqual([]);
  const { rows: movements } = await pool.query<{ id: string; transaction_id: string | null; amount: bigint }>('SELECT id, transaction_id, amount FROM ledger_transfers');
  const byTransaction = new Map<string, string[]>();
  for (const movement of movements) {
    expect(movement.transaction_id).not.toBeNull();
    byTransaction.set(movement.transaction_id!, [...(byTransaction.get(movement.transaction_id!) ?? []), movement.id]);
  }
  const wrong = rows.flatMap((row) => {
    const leg = row.kind === 'TRANSFER' ? 'transfer' : 'credit';
    const expected = row.status === 'COMPLETED' ? [ledgerTransferId(row.id, leg)] : [];
    const found = byTransaction.get(row.id) ?? [];
    return JSON.stringify(found) === JSON.stringify(expected) ? [] : [`${row.kind} ${row.id} ${row.status}: ${JSON.stringify(found)}`];
  });
  expect(wrong).toEqual([]);
}

/** Each payment's workflow ran once and completed (none failed, none terminated, none started twice). */
async function expectOneCompletedRunEach(temporal: Client, pool: Pool): Promise<void> {
  const runs = new Map<string, string[]>();
  for await (const execution of temporal.workflow.list({ query: `TaskQueue = "${taskQueue}" AND WorkflowType IN ("transferWorkflow", "onRampWorkflow")` })) {
    runs.set(execution.workflowId, [...(runs.get(execution.workflowId) ?? []), execution.status.name]);
  }
  const rows = await transactionRows(pool);
  expect(Object.fromEntries(runs)).toEqual(Object.fromEntries(rows.map((row) => [workflowIdFor(row.kind, row.id), ['COMPLETED']])));
}

/** Each wallet holds what its owner's on-ramps and the transfers in and out that completed add up to. */
async function expectWalletsMatchWhatUsersWereTold(pool: Pool, clients: readonly DrillClient[]): Promise<void> {
  const expected = new Map(clients.map((client) => [client.user.id, 0n]));
  for (const client of clients) {
    for (const payment of client.accepted.values()) {
      const outcome = await client.fetchStatus(payment.id);
      if (outcome?.status !== 'COMPLETED') continue;
      const amount = BigInt(outcome.amount);
      if (payment.request.kind === 'ON_RAMP') expected.set(client.user.id, expected.get(client.user.id)! + amount);
      else {
        expected.set(client.user.id, expected.get(client.user.id)! - amount);
        expected.set(payment.counterpartyUserId!, expected.get(payment.counterpartyUserId!)! + amount);
      }
    }
  }
  const { rows } = await pool.query<{ user_id: string; balance: bigint }>(
    `SELECT user_id, (credits_posted - debits_posted)::bigint AS balance FROM ledger_accounts WHERE kind = 'wallet'`,
  );
  const held = Object.fromEntries(rows.filter((row) => expected.has(row.user_id)).map((row) => [row.user_id, row.balance]));
  expect(held).toEqual(Object.fromEntries(expected));
}

/** Every final status reached the subscriber of each party once (a recipient only of completed transfers). */
async function expectSubscribersSawEveryFinalStatusOnce(pool: Pool, clients: readonly DrillClient[], payments: readonly AcceptedPayment[]): Promise<void> {
  const byId = new Map((await transactionRows(pool)).map((row) => [row.id, row]));
  const clientOf = new Map(clients.map((client) => [client.user.id, client]));
  const wrong: string[] = [];
  for (const payment of payments) {
    const row = byId.get(payment.id)!;
    const sender = clientOf.get(row.user_id)!;
    // The sender listens on the other API process than the one that took the payment.
    expect(sender.subscriptionUrl).not.toBe(sender.graphqlUrl);
    const seen = sender.finalEvents.get(row.id) ?? [];
    if (JSON.stringify(seen) !== JSON.stringify([row.status])) wrong.push(`sender of ${row.id} (${row.status}) saw ${JSON.stringify(seen)}`);
    if (row.counterparty_user_id) {
      const received = clientOf.get(row.counterparty_user_id)!.finalEvents.get(row.id) ?? [];
      const want = row.status === 'COMPLETED' ? [row.status] : [];
      if (JSON.stringify(received) !== JSON.stringify(want)) wrong.push(`recipient of ${row.id} (${row.status}) saw ${JSON.stringify(received)}`);
    }
  }
  expect(wrong).toEqual([]);
}

/** Waits until each client has as many final events as it is owed (its own payments, the transfers it received). */
async function waitForFinalEvents(clients: readonly DrillClient[], payments: readonly AcceptedPayment[], pool: Pool, timeoutMs: number): Promise<void> {
  const rows = await transactionRows(pool);
  const owed = new Map<string, number>();
  for (const row of rows) {
    owed.set(row.user_id, (owed.get(row.user_id) ?? 0) + 1);
    if (row.counterparty_user_id && row.status === 'COMPLETED') owed.set(row.counterparty_user_id, (owed.get(row.counterparty_user_id) ?? 0) + 1);
  }
  expect(rows.length).toBe(payments.length);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && clients.some((client) => client.finalEvents.size < (owed.get(client.user.id) ?? 0))) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
