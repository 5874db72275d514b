// OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set: then
// spans go by OTLP/HTTP to that collector (Jaeger, an OpenTelemetry Collector), SQL spans come from
// the pg instrumentation, and every span made for a transaction carries its id. Imported first by each
// entry point, because the pg instrumentation must be in place before `pg` is loaded.
import type { Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Next, WorkflowClientInterceptor, WorkflowSignalInput, WorkflowSignalWithStartInput, WorkflowStartInput } from '@temporalio/client';
import { currentTransactionId, inTransaction, transactionIdAttribute, transactionIdOfWorkflow } from './correlation';

/** Tracing is on when a collector is named: OpenTelemetry's own variables, nothing of ours. */
export const tracingEnabled = (env: NodeJS.ProcessEnv = process.env): boolean =>
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) && env.OTEL_SDK_DISABLED !== 'true';

if (tracingEnabled()) {
  // Through the global (proxy) tracer provider, which startTracing() fills in later. Statement text
  // only: enhancedDatabaseReporting (parameter values) stays off, since values can be personal data.
  registerInstrumentations({ instrumentations: [new PgInstrumentation({ requireParentSpan: true })] });
}

/** Puts the current transaction's id on every span as it starts (SQL spans included). */
class TransactionIdSpanProcessor implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    const transactionId = currentTransactionId();
    if (transactionId) span.setAttribute(transactionIdAttribute, transactionId);
  }
  onEnd(_span: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Tracing {
  provider: NodeTracerProvider;
  resource: Resource;
  /** Where finished spans go: for the workflow span sink, which hands over spans made in the workflow sandbox. */
  exportProcessor: SpanProcessor;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Starts the tracer provider for this process (null when tracing is off). */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing | null {
  if (!tracingEnabled(env)) return null;
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || serviceName });
  // Endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables; a short batch delay
  // keeps a trace viewer close to live without a request per span.
  const exportProcessor = new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1_000, maxQueueSize: 8_192 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new TransactionIdSpanProcessor(), exportProcessor] });
  // Also installs the AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  return { provider, resource, exportProcessor, shutdown: () => provider.shutdown() };
}

/** Runs `work` for a workflow's transaction, when its id names one. */
function forWorkflow<T>(workflowId: string, work: () => Promise<T>): Promise<T> {
  const transactionId = transactionIdOfWorkflow(workflowId);
  return transactionId ? inTransaction(transactionId, work) : work();
}

/**
 * Names the transaction of a workflow being started or signalled, before the OpenTelemetry client
 * interceptor makes its span (so that span, and every later one in the request, carries the id).
 */
export class TransactionCorrelationClientInterceptor implements WorkflowClientInterceptor {
  start(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'start'>): Promise<string> {
    return forWorkflow(input.options.workflowId, () => next(input));
  }
  signalWithStart(input: WorkflowSignalWithStartInput, next: Next<WorkflowClientInterceptor, 'signalWithStart'>): Promise<string> {
    return forWorkflow(input.options.workflowId, () => next(input));
  }
  signal(input: WorkflowSignalInput, next: Next<WorkflowClientInterceptor, 'signal'>): Promise<void> {
    return forWorkflow(input.workflowExecution.workflowId, () => next(input));
  }
}
