// Prometheus metrics for every ZenPAY process (prom-client): one registry per process, served at
// /metrics on a port of its own (METRICS_HOST, loopback by default), never on the public API port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { loadConfig } from './config';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Where each process serves /metrics unless METRICS_PORT says otherwise. */
export const defaultMetricsPorts = { api: 9400, worker: 9401, bankSim: 9402, smsSim: 9403 } as const;

const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * METRICS_PORT (0: any free port; `off`: no metrics server; unset: the process's default port, or any
 * free one when that is taken, e.g. by a second process of the same kind), METRICS_HOST (loopback
 * unless said), METRICS_TOKEN (a bearer token the scraper must send). A production process refuses to
 * serve metrics beyond loopback without a token: they name operations, outcomes and load.
 */
export function metricsConfigSchema() {
  return z
    .object({
      METRICS_PORT: z.union([z.literal('off'), z.coerce.number().int().min(0).max(65535)]).optional(),
      METRICS_HOST: z.string().min(1).default('127.0.0.1'),
      METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
      NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    })
    .superRefine((config, context) => {
      if (config.NODE_ENV === 'production' && config.METRICS_PORT !== 'off' && !loopbackHosts.has(config.METRICS_HOST) && !config.METRICS_TOKEN) {
        context.addIssue({ code: 'custom', path: ['METRICS_TOKEN'], message: 'must be set when METRICS_HOST is not a loopback address and NODE_ENV=production' });
      }
    });
}
export type MetricsConfig = z.infer<ReturnType<typeof metricsConfigSchema>> & { defaultPort: number };

/** Reads METRICS_* (a bad value throws a ConfigError naming the variable). */
export function loadMetricsConfig(defaultPort: number, env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  return { ...loadConfig(metricsConfigSchema(), env), defaultPort };
}

// --- What the processes count. Labels take values from closed sets only (kinds, statuses, codes). ---

/** Final outcomes as the worker's ledger steps record them (activities/interceptors.ts). */
export const paymentOutcomes = new Counter({
  name: 'zenpay_payment_outcomes_total',
  help: 'Payments that reached a final status, by kind (TRANSFER, ON_RAMP, OFF_RAMP), status and failure code (none when COMPLETED)',
  labelNames: ['kind', 'status', 'code'] as const,
  registers: [],
});

/** Bank webhooks whose signature (or timestamp) did not verify: forgeries, stale replays, wrong secrets. */
export const webhookVerificationFailures = new Counter({
  name: 'zenpay_webhook_verification_failures_total',
  help: 'Bank webhooks refused because their Standard Webhooks signature or timestamp did not verify',
  registers: [],
});

/** From an outbox event's transaction time in PostgreSQL to its hand-over to a live subscriber. */
export const outboxDeliveryLag = new Histogram({
  name: 'zenpay_outbox_delivery_lag_seconds',
  help: 'Time from an outbox event being written (its transaction time) to its delivery to a live subscription',
  labelNames: ['kind'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [],
});

/** Called as live events are handed to a subscription: their lag since their transaction wrote them. */
export function observeOutboxDelivery(events: ReadonlyArray<{ kind: string; createdAt: Date }>): void {
  const now = Date.now();
  for (const event of events) outboxDeliveryLag.observe({ kind: event.kind }, Math.max(0, now - event.createdAt.getTime()) / 1000);
}

/** Registers the metrics a process uses (each process shows only its own). */
export function useMetrics(...metrics: Array<Counter<string> | Histogram<string> | Gauge<string>>): void {
  for (const metric of metrics) {
    if (!registry.getSingleMetric((metric as unknown as { name: string }).name)) registry.registerMetric(metric);
  }
}

interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
}

/** Connection pool saturation: connections open, idle, and callers waiting for one, read at each scrape. */
export function observePool(name: string, pool: PoolLike): void {
  const gauge = (metric: string, help: string, read: () => number) =>
    new Gauge({
      name: metric,
      help,
      labelNames: ['pool'] as const,
      registers: [registry],
      collect() {
        this.set({ pool: name }, read());
      },
    });
  gauge('zenpay_db_pool_connections', 'PostgreSQL connections the pool holds (busy and idle)', () => pool.totalCount);
  gauge('zenpay_db_pool_idle_connections', 'PostgreSQL connections the pool holds idle', () => pool.idleCount);
  gauge('zenpay_db_pool_waiting_requests', 'Queries waiting for a connection because all are busy', () => pool.waitingCount);
  gauge('zenpay_db_pool_max_connections', 'The pool\'s bound on connections', () => pool.options.max ?? 10);
}

/** HTTP requests served, by method and status class: for the simulators (their paths carry ids). */
export function httpRequestMetrics(): (request: IncomingMessage, response: ServerResponse) => void {
  const requests = new Counter({
    name: 'zenpay_http_requests_total',
    help: 'HTTP requests served, by method and status code',
    labelNames: ['method', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'zenpay_http_request_duration_seconds',
    help: 'HTTP request durations, by method',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const methods = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
  return (request, response) => {
    const stop = durations.startTimer();
    response.once('finish', () => {
      const method = methods.has(request.method ?? '') ? request.method! : 'OTHER';
      requests.inc({ method, status: String(response.statusCode) });
      stop({ method });
    });
  };
}

/**
 * For the simulators, loaded after their ready line (a restart stays as quick as before): counts the
 * server's HTTP requests from now on and serves /metrics. Resolves with its address (null: off).
 */
export async function serveSimulatorMetrics(server: Server, defaultPort: number): Promise<string | null> {
  server.on('request', httpRequestMetrics());
  const metrics = await startMetricsServer({ config: loadMetricsConfig(defaultPort) });
  return metrics?.url ?? null;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  config: MetricsConfig;
  /** Appended to the registry's text: other exporters of this process (the Temporal SDK's). */
  extraText?: () => Promise<string>;
  /** Further pages on this port (e.g. the API's /metrics/overview), behind the same guard. */
  extraRoutes?: Record<string, (request: IncomingMessage, response: ServerResponse) => Promise<void>>;
}

function authorised(request: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(request.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Serves GET /metrics (and extra routes) on the configured port; null when METRICS_PORT=off. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer | null> {
  const { config } = options;
  if (config.METRICS_PORT === 'off') return null;
  const routes: NonNullable<MetricsServerOptions['extraRoutes']> = {
    '/metrics': async (_request, response) => {
      const own = await registry.metrics();
      const extra = options.extraText ? await options.extraText().catch(() => '') : '';
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(extra ? `${own}\n${extra}` : own);
    },
    ...options.extraRoutes,
  };
  const server: Server = createServer((request, response) => {
    const route = routes[new URL(request.url ?? '/', 'http://metrics').pathname];
    if (request.method !== 'GET' || !route) {
      response.writeHead(404).end();
      return;
    }
    if (!authorised(request, config.METRICS_TOKEN)) {
      response.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      return;
    }
    route(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.METRICS_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  if (config.METRICS_PORT !== undefined) await listen(config.METRICS_PORT);
  else {
    await listen(config.defaultPort).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') throw error;
      return listen(0);
    });
  }
  const { port } = server.address() as AddressInfo;
  const host = config.METRICS_HOST.includes(':') ? `[${config.METRICS_HOST}]` : config.METRICS_HOST;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
