// Prometheus metrics of every process, read over HTTP from the real API, worker, bank and SMS simulator
// processes after real work: a transfer through GraphQL (with a live subscriber), a forged webhook, an
// operator query.
// Also the metrics server's guard (a bearer token) and the production refusal, in process.
import { randomUUID } from 'node:crypto';
import { fundWalletForTesting } from '../db/test-funding';
import { ConfigError } from '../common/config';
import { loadMetricsConfig, startMetricsServer } from '../common/metrics';
import type { ManagedProcess } from './process';
import { graphql, sendMoneyMutation, signUpUser } from '../test/client';
import { connect, subscribe } from '../test/ws-client';
import { startTestSystem, type TestSystem } from '../test/system';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ bankSim: true });
});
afterAll(async () => {
  await system?.stop();
});

/** The metrics address a process announced (API and worker: in their ready line; simulators: just after it). */
async function metricsUrlOf(process: ManagedProcess): Promise<string> {
  const found = () => /"metricsUrl":"(http:\/\/[^"]+)"/.exec(process.recentOutput())?.[1];
  const url = await eventually(async () => found(), (value) => value !== undefined, 10_000);
  if (!url) throw new Error(`${process.spec.name} announced no metrics address:\n${process.recentOutput()}`);
  return url;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

/** The value of one sample, e.g. sample(text, 'zenpay_payment_outcomes_total', {kind: 'TRANSFER'}); 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) total += Number(match[3]);
  }
  return total;
}

async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('metrics of every process', () => {
  test('a transfer with a live subscriber | API, worker and simulators answer /metrics and the counters moved', async () => {
    const apiMetrics = await metricsUrlOf(system.api);
    const workerMetrics = await metricsUrlOf(system.worker);
    const before = { api: await scrape(apiMetrics), worker: await scrape(workerMetrics) };

    const asha = await signUpUser(system.graphqlUrl, 'Asha');
    const ravi = await signUpUser(system.graphqlUrl, 'Ravi');
    await fundWalletForTesting(system.pool, asha.id, 10_000n);
    const socket = connect(system.graphqlUrl, ravi.token);
    const updates = subscribe(socket.client, 'subscription { transactionUpdated { transaction { id status } } }');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: ravi.phone, amount: '2500', idempotencyKey: randomUUID() } }, asha.token);
    expect(response.data.sendMoney.status).toBe('COMPLETED');
    await updates.waitFor(1);
    await socket.client.dispose();

    const api = await eventually(() => scrape(apiMetrics), (text) => sample(text, 'zenpay_outbox_delivery_lag_seconds_count') > sample(before.api, 'zenpay_outbox_delivery_lag_seconds_count'));
    const send = { endpoint: 'public', operationName: 'Send', operationType: 'mutation' };
    expect(sample(api, 'zenpay_graphql_requests_total', send)).toBe(sample(before.api, 'zenpay_graphql_requests_total', send) + 1);
    expect(sample(api, 'zenpay_graphql_request_duration_seconds_count', send)).toBe(sample(before.api, 'zenpay_graphql_request_duration_seconds_count', send) + 1);
    expect(sample(api, 'zenpay_graphql_requests_total', { operationName: 'SignUp' })).toBeGreaterThanOrEqual(2);
    expect(sample(api, 'zenpay_outbox_delivery_lag_seconds_count', { kind: 'transaction' })).toBeGreaterThanOrEqual(1);
    expect(sample(api, 'zenpay_db_pool_max_connections', { pool: 'api' })).toBe(10);
    expect(api).toMatch(/^zenpay_db_pool_connections\{pool="api"\} \d+$/m);
    expect(api).toMatch(/^zenpay_db_pool_waiting_requests\{pool="api"\} \d+$/m);
    expect(api).toMatch(/^process_cpu_seconds_total /m);

    const transferCompleted = { kind: 'TRANSFER', status: 'COMPLETED', code: 'none' };
    const worker = await eventually(() => scrape(workerMetrics), (text) => sample(text, 'zenpay_payment_outcomes_total', transferCompleted) > 0);
    expect(sample(worker, 'zenpay_payment_outcomes_total', transferCompleted)).toBe(sample(before.worker, 'zenpay_payment_outcomes_total', transferCompleted) + 1);
    expect(sample(worker, 'zenpay_db_pool_max_connections', { pool: 'worker' })).toBe(10);
    // The Temporal SDK's own metrics, relayed from its exporter: workflow task latency and schedule-to-start.
    expect(sample(worker, 'temporal_workflow_task_execution_latency_seconds_count')).toBeGreaterThan(0);
    expect(sample(worker, 'temporal_workflow_task_schedule_to_start_latency_seconds_count')).toBeGreaterThan(0);
    expect(sample(worker, 'temporal_workflow_completed_total', { workflow_type: 'transferWorkflow' })).toBeGreaterThan(0);

    const smsSim = await scrape(await metricsUrlOf(system.smsSim));
    expect(sample(smsSim, 'zenpay_http_requests_total', { method: 'POST', status: '200' }) + sample(smsSim, 'zenpay_http_requests_total', { method: 'POST', status: '202' })).toBeGreaterThanOrEqual(2);
    const bankSim = await scrape(await metricsUrlOf(system.bankSim!));
    expect(bankSim).toMatch(/^process_cpu_seconds_total /m);
  });

  test('a webhook with a forged signature | refused, and counted as a verification failure', async () => {
    const apiMetrics = await metricsUrlOf(system.api);
    const before = sample(await scrape(apiMetrics), 'zenpay_webhook_verification_failures_total');
    const response = await fetch(`${system.apiUrl}/webhooks/bank`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': `msg_${randomUUID()}`,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}`,
      },
      body: JSON.stringify({ type: 'payment.succeeded', timestamp: new Date().toISOString(), data: {} }),
    });
    expect(response.status).toBe(401);
    expect(sample(await scrape(apiMetrics), 'zenpay_webhook_verification_failures_total')).toBe(before + 1);
  });

  test('a query without a session on each endpoint | counted by operation with its contract code, the operator endpoint apart', async () => {
    const apiMetrics = await metricsUrlOf(system.api);
    const operator = { endpoint: 'operator', operationName: 'OperatorMe', operationType: 'query' };
    const publicQuery = { endpoint: 'public', operationName: 'PublicSessions', operationType: 'query' };
    const before = await scrape(apiMetrics);
    const operatorResponse = await graphql(`${system.apiUrl}/operator/graphql`, 'query OperatorMe { me { name } }');
    expect(operatorResponse.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const publicResponse = await graphql(system.graphqlUrl, 'query PublicSessions { sessions { id } }');
    expect(publicResponse.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const after = await scrape(apiMetrics);
    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    for (const labels of [operator, publicQuery]) {
      expect(moved('zenpay_graphql_requests_total', labels)).toBe(1);
      expect(moved('zenpay_graphql_request_duration_seconds_count', labels)).toBe(1);
      // The resolver's own code, as the client saw it (maskError gives it to the client only after the count).
      expect(moved('zenpay_graphql_errors_total', { ...labels, phase: 'execute', code: 'UNAUTHENTICATED' })).toBe(1);
    }
    expect(sample(after, 'zenpay_graphql_requests_total', { endpoint: 'public', operationName: 'OperatorMe' })).toBe(0);
  });

  test('the API | serves no metrics on its public port, and an overview page on its metrics port', async () => {
    expect((await fetch(`${system.apiUrl}/metrics`)).headers.get('content-type') ?? '').not.toMatch(/^text\/plain; version=/);
    const overview = await fetch(`${await metricsUrlOf(system.api)}/overview`);
    expect(overview.status).toBe(200);
    const page = await overview.text();
    expect(page).toContain('zenpay_graphql_requests_total');
    expect(page).toContain('zenpay_db_pool_connections');
  });
});

describe('the metrics server', () => {
  test('METRICS_TOKEN set | a scrape without the bearer token is refused, one with it answers', async () => {
    const token = randomUUID();
    const server = await startMetricsServer({ config: loadMetricsConfig(0, { METRICS_PORT: '0', METRICS_TOKEN: token }) });
    try {
      expect((await fetch(server!.url)).status).toBe(401);
      expect((await fetch(server!.url, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
      expect((await fetch(server!.url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      await server!.close();
    }
  });

  test('NODE_ENV=production, metrics beyond loopback without a token | the configuration is refused', () => {
    expect(() => loadMetricsConfig(9400, { NODE_ENV: 'production', METRICS_HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadMetricsConfig(9400, { NODE_ENV: 'production', METRICS_HOST: '0.0.0.0', METRICS_TOKEN: 'a'.repeat(32) })).not.toThrow();
    expect(loadMetricsConfig(9400, { NODE_ENV: 'production' }).METRICS_HOST).toBe('127.0.0.1');
  });

  test('METRICS_PORT=off | no server', async () => {
    expect(await startMetricsServer({ config: loadMetricsConfig(9400, { METRICS_PORT: 'off' }) })).toBeNull();
  });
});
