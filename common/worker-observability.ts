// The worker's metrics and traces: its /metrics (ZenPAY's counters, the pool, and the Temporal SDK's own
// metrics from the Rust core's Prometheus exporter, on one address), and, when tracing is on,
// Temporal's OpenTelemetry interceptors on the client, the activities and the workflows.
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import type { ClientInterceptors } from '@temporalio/client';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import { ObservedActivityInterceptor } from '../activities/interceptors';
import { transactionIdAttribute, transactionIdOfWorkflow } from './correlation';
import { freePort } from '../system/ports';
import { defaultMetricsPorts, loadMetricsConfig, observePool, paymentOutcomes, startMetricsServer, useMetrics, type MetricsConfig, type MetricsServer } from './metrics';
import { TransactionCorrelationClientInterceptor, type Tracing } from './tracing';
import type { Pool } from '../db/pool';

/** The module Temporal bundles into the workflow code when tracing is on (workflow and activity-scheduling spans). */
export const workflowTracingModule = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

export function workerMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  return loadMetricsConfig(defaultMetricsPorts.worker, env);
}

/**
 * Where the Rust core serves the SDK's metrics (loopback only; the worker's /metrics relays them):
 * TEMPORAL_SDK_METRICS_PORT, else a free port. Null when the worker serves no metrics.
 */
export async function sdkMetricsAddress(config: MetricsConfig, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (config.METRICS_PORT === 'off') return null;
  const port = env.TEMPORAL_SDK_METRICS_PORT ? Number(env.TEMPORAL_SDK_METRICS_PORT) : await freePort();
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('TEMPORAL_SDK_METRICS_PORT must be a port number');
  return `127.0.0.1:${port}`;
}

/** Runtime.install's telemetry: the SDK's metrics in Prometheus form (seconds, `_total` counters). */
export function sdkTelemetryOptions(address: string | null) {
  if (!address) return undefined;
  return { metrics: { prometheus: { bindAddress: address, useSecondsForDurations: true, countersTotalSuffix: true, unitSuffix: true } } };
}

/** The worker's Temporal client interceptors: correlation always, OpenTelemetry when tracing. */
export function clientInterceptors(tracing: Tracing | null): ClientInterceptors {
  return { workflow: [new TransactionCorrelationClientInterceptor(), ...(tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : [])] };
}

/** Workflow spans arrive through a sink from the workflow sandbox: each gets its transaction's id here. */
function workflowSpanSinks(tracing: Tracing): InjectedSinks<OpenTelemetrySinks> {
  const inner = makeWorkflowExporter(tracing.exportProcessor, tracing.resource);
  return {
    exporter: {
      export: {
        fn: (info, spans) => {
          const transactionId = transactionIdOfWorkflow(info.workflowId);
          if (transactionId) for (const span of spans) span.attributes[transactionIdAttribute] = transactionId;
          inner.export.fn(info, spans);
        },
        callDuringReplay: false,
      },
    },
  };
}

/**
 * Worker.create's interceptors and sinks. With tracing, the workflow code must include the tracing
 * module: bundled here (`bundled` false), or in a prebuilt bundle (scripts/bundle-workflows.ts --tracing).
 */
export function workerOptions(pool: Pool, tracing: Tracing | null, bundled: boolean): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      activity: [
        (context) => ({ inbound: new ObservedActivityInterceptor(context, pool) }),
        ...(tracing
          ? [(context: ConstructorParameters<typeof OpenTelemetryActivityInboundInterceptor>[0]) => ({
              inbound: new OpenTelemetryActivityInboundInterceptor(context),
              outbound: new OpenTelemetryActivityOutboundInterceptor(context),
            })]
          : []),
      ],
      workflowModules: tracing && !bundled ? [workflowTracingModule] : [],
    },
    ...(tracing ? { sinks: workflowSpanSinks(tracing) } : {}),
  };
}

/** Serves the worker's /metrics: its own registry, then the SDK's exporter's text. */
export async function startWorkerMetrics(config: MetricsConfig, pool: Pool, sdkAddress: string | null): Promise<MetricsServer | null> {
  useMetrics(paymentOutcomes);
  observePool('worker', pool);
  return startMetricsServer({
    config,
    extraText: sdkAddress
      ? async () => {
          const response = await fetch(`http://${sdkAddress}/metrics`, { signal: AbortSignal.timeout(2_000) });
          return response.ok ? response.text() : '';
        }
      : undefined,
  });
}
