// Which transaction the current work is for, carried along async calls (AsyncLocalStorage), so that
// every log line and every trace span made on its behalf names it without passing it by hand.
import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';

/** Mutable on purpose: an API request learns its transaction id only once the transaction is recorded. */
export interface Correlation {
  transactionId?: string;
}

const storage = new AsyncLocalStorage<Correlation>();

/** The span attribute (and log field) that names the transaction. */
export const transactionIdAttribute = 'zenpay.transaction_id';

const uuidAtEnd = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The transaction a workflow id belongs to (`transfer-<id>`, `onramp-<id>`, `reconcile-<id>`, …), if any. */
export function transactionIdOfWorkflow(workflowId: string | undefined): string | undefined {
  return workflowId ? uuidAtEnd.exec(workflowId)?.[1] : undefined;
}

/** Runs `work` with a correlation of its own (for one GraphQL operation or one activity). */
export function withCorrelation<T>(correlation: Correlation, work: () => T): T {
  return storage.run(correlation, work);
}

/** Runs `work` for a transaction: names it in the current correlation, or in a new one when there is none. */
export function inTransaction<T>(transactionId: string, work: () => T): T {
  if (!storage.getStore()) return storage.run({ transactionId }, work);
  tagTransaction(transactionId);
  return work();
}

export function currentTransactionId(): string | undefined {
  return storage.getStore()?.transactionId;
}

/**
 * Names the transaction of the current work from now on: later log lines and spans carry it, and so
 * does the active span (the GraphQL operation's, in the API), which is still open.
 */
export function tagTransaction(transactionId: string): void {
  const correlation = storage.getStore();
  if (correlation) correlation.transactionId = transactionId;
  trace.getActiveSpan()?.setAttribute(transactionIdAttribute, transactionId);
}

/**
 * pino's mixin: the transaction id and, when tracing is on, the trace and span ids of the active span.
 * A log call's own transactionId wins over the mixin's.
 */
export function logCorrelation(): Record<string, string> {
  const fields: Record<string, string> = {};
  const transactionId = storage.getStore()?.transactionId;
  if (transactionId) fields.transactionId = transactionId;
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext) {
    fields.traceId = spanContext.traceId;
    fields.spanId = spanContext.spanId;
  }
  return fields;
}
