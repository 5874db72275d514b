// The API process: connects to PostgreSQL and Temporal, listens for outbox events, serves GraphQL,
// subscriptions, bank webhooks and /healthz on one port (metrics on another). SIGINT/SIGTERM close it cleanly.
// First: tracing's pg instrumentation must be in place before anything loads `pg`.
import { startTracing, type Tracing } from '../common/tracing';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { apiConfigSchema, loadConfigOrExit, workerConfigSchema, type ApiConfig } from '../common/config';
import { createPaymentsWorker } from '../worker';
import { announce, createLogger, type Logger } from '../common/log';
import { createPool } from '../db/pool';
import { clientInterceptors } from '../common/worker-observability';
import { defaultMetricsPorts, loadMetricsConfig, observePool, outboxDeliveryLag, paymentOutcomes, startMetricsServer, useMetrics, webhookVerificationFailures } from '../common/metrics';
import { metricsOverview } from './observability';
import type { ApiDependencies } from './context';
import { EventHub } from './event-hub';
import { RateLimits } from './rate-limits';
import { startApiServer, type ApiServer } from './server';
import { createSmsSender } from './sms';
import { bankWebhookRouter } from './webhooks';

export interface RunningApi extends ApiServer {
  deps: ApiDependencies;
}

export async function runApi(config: ApiConfig, log: Logger): Promise<RunningApi> {
  const tracing = startTracing('zenpay-api');
  const metricsConfig = loadMetricsConfig(defaultMetricsPorts.api);
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'zenpay-api' });
  // The Rust core's gRPC client: far less CPU per call than the pure-JavaScript one.
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, interceptors: clientInterceptors(tracing) });
  const hub = new EventHub(config.DATABASE_URL, log);
  await hub.start();
  const limits = new RateLimits(pool, config, log);
  const sms = createSmsSender({ baseUrl: config.SMS_API_URL, timeoutMs: config.SMS_API_TIMEOUT_MS });
  const deps: ApiDependencies = { config, pool, temporal, hub, log, limits, sms };
  const embedded = config.API_EAGER_START ? await startEmbeddedWorker({ connection, pool, client: temporal, log, tracing }) : null;
  const server = await startApiServer(deps, (app) => app.use(bankWebhookRouter(deps)));
  // An embedded worker's ledger steps count their outcomes here too.
  useMetrics(webhookVerificationFailures, outboxDeliveryLag, ...(embedded ? [paymentOutcomes] : []));
  observePool('api', pool);
  const metrics = await startMetricsServer({ config: metricsConfig, extraRoutes: { '/metrics/overview': metricsOverview } });
  announce(log, { url: `${server.url}/graphql`, metricsUrl: metrics?.url ?? null, tracing: tracing !== null }, 'api listening');
  return {
    ...server,
    deps,
    async close() {
      await server.close();
      await embedded?.stop();
      await hub.stop();
      await connection.close();
      await pool.end();
      await metrics?.close();
      await tracing?.shutdown();
    },
  };
}

/**
 * API_EAGER_START: a worker in this process, on the API's own connection (eager start needs the client
 * and the worker on one), with the worker's settings read from the same environment. It stops the
 * process if it fails: a supervisor starts both again.
 */
async function startEmbeddedWorker(parts: { connection: NativeConnection; pool: ApiDependencies['pool']; client: Client; log: Logger; tracing: Tracing | null }) {
  const workerConfig = loadConfigOrExit(workerConfigSchema);
  const log = parts.log.child({ component: 'embedded-worker' });
  const worker = await createPaymentsWorker({ ...parts, config: workerConfig, log });
  const running = worker.run().catch((error: unknown) => {
    log.fatal({ err: error }, 'embedded worker failed');
    process.exit(1);
  });
  log.info({ taskQueue: workerConfig.TEMPORAL_TASK_QUEUE }, 'embedded worker running (eager start)');
  return {
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

if (require.main === module) {
  const config = loadConfigOrExit(apiConfigSchema);
  const log = createLogger('api', config.LOG_LEVEL);
  runApi(config, log).then(
    (api) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'api stopping');
        api.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      log.fatal({ err: error }, 'api failed to start');
      process.exit(1);
    },
  );
}
