// The Temporal worker process: runs ZenPAY's workflows and activities on one task queue, plus the
// Temporal Schedules of its background jobs (the reconciler, the outbox's retention).
// First: tracing's pg instrumentation must be in place before anything loads `pg`.
import { startTracing, type Tracing } from './common/tracing';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { BankClient } from './activities/bank-client';
import { loadConfigOrExit, workerConfigSchema, type WorkerConfig } from './common/config';
import { announce, createLogger, type Logger } from './common/log';
import { ensureSchedules } from './activities/maintenance';
import { createPool, type Pool } from './db/pool';
import { fraudPolicyOf } from './api/fraud';
import { workerTuning } from './common/worker-tuning';
import { clientInterceptors, sdkMetricsAddress, sdkTelemetryOptions, startWorkerMetrics, workerMetricsConfig, workerOptions } from './common/worker-observability';

/** `sdkMetricsAddress`: where Runtime.install put the Temporal SDK's Prometheus exporter, relayed by /metrics. */
export async function runWorker(config: WorkerConfig, log: Logger, observability: { sdkMetricsAddress?: string | null } = {}): Promise<void> {
  const tracing = startTracing('zenpay-worker');
  const metricsConfig = workerMetricsConfig();
  const pool = createPool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: 'zenpay-worker' });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE, interceptors: clientInterceptors(tracing) });
  const worker = await createPaymentsWorker({ config, connection, pool, client, log, tracing });
  const metrics = await startWorkerMetrics(metricsConfig, pool, observability.sdkMetricsAddress ?? null);
  await ensureSchedules({
    client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
    eventPruneIntervalMs: config.EVENT_PRUNE_INTERVAL_MS,
  });

  announce(log, { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE, metricsUrl: metrics?.url ?? null, tracing: tracing !== null }, 'worker running');
  try {
    // Resolves after SIGINT or SIGTERM (the Runtime's shutdown signals), once in-flight tasks finish.
    await worker.run();
  } finally {
    await connection.close();
    await clientConnection.close();
    await pool.end();
    await metrics?.close();
    await tracing?.shutdown();
    log.info('worker stopped');
  }
}

/**
 * ZenPAY's worker on a connection: every workflow and activity, with the configured tuning. The worker
 * process runs one; an API process with API_EAGER_START runs one too, on its own connection, so that
 * Temporal can hand it the transfers it starts.
 */
export async function createPaymentsWorker(parts: {
  config: WorkerConfig;
  connection: NativeConnection;
  pool: Pool;
  client: Client;
  log: Logger;
  tracing: Tracing | null;
}): Promise<Worker> {
  const { config, connection, pool, client, log, tracing } = parts;
  // With tracing on, the workflow code must include the tracing interceptors: a bundle made with them
  // (scripts/bundle-workflows.ts --tracing), or the worker bundles the code itself.
  const bundlePath = tracing ? process.env.WORKFLOW_TRACING_BUNDLE_PATH : process.env.WORKFLOW_BUNDLE_PATH;
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = bundlePath
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: require.resolve('./workflows') };
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...workflowSource,
    activities: createActivities({
      pool,
      log,
      bank: new BankClient({ baseUrl: config.BANK_API_URL, timeoutMs: config.BANK_API_TIMEOUT_MS }),
      bankDecisionTimeoutMs: config.BANK_DECISION_TIMEOUT_MS,
      bankUnavailableAfterMs: config.BANK_UNAVAILABLE_AFTER_MS,
      webAppUrl: config.WEB_APP_URL,
      fraud: fraudPolicyOf(config),
      reconciler: {
        client,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        staleAfterMs: config.RECONCILE_STALE_AFTER_MS,
        eventRetentionMs: config.EVENT_RETENTION_MS,
      },
    }),
    ...workerTuning(config),
    ...workerOptions(pool, tracing, Boolean(bundlePath)),
  });
}

/** Routes the SDK's own log messages (worker state, bundling, failures) into our JSON log. */
function temporalLogger(log: Logger, minimum: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR') {
  const order = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
  const emit = (level: (typeof order)[number], message: string, meta?: Record<string, unknown>) => {
    if (order.indexOf(level) < order.indexOf(minimum)) return;
    const method = level === 'TRACE' ? 'trace' : (level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error');
    log[method](meta ?? {}, message);
  };
  return {
    log: emit,
    trace: (message: string, meta?: Record<string, unknown>) => emit('TRACE', message, meta),
    debug: (message: string, meta?: Record<string, unknown>) => emit('DEBUG', message, meta),
    info: (message: string, meta?: Record<string, unknown>) => emit('INFO', message, meta),
    warn: (message: string, meta?: Record<string, unknown>) => emit('WARN', message, meta),
    error: (message: string, meta?: Record<string, unknown>) => emit('ERROR', message, meta),
  };
}

if (require.main === module) {
  const config = loadConfigOrExit(workerConfigSchema);
  const log = createLogger('worker', config.LOG_LEVEL);
  sdkMetricsAddress(workerMetricsConfig())
    .then((address) => {
      Runtime.install({
        logger: temporalLogger(log.child({ component: 'temporal-sdk' }), config.TEMPORAL_SDK_LOG_LEVEL),
        telemetryOptions: sdkTelemetryOptions(address),
      });
      return runWorker(config, log, { sdkMetricsAddress: address });
    })
    .then(
      () => process.exit(0),
      (error: unknown) => {
        log.fatal({ err: error }, 'worker failed');
        process.exit(1);
      },
    );
}
