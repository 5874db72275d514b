// Background upkeep in the worker process, each on its own interval: the sweeper (starts the
// workflow of any transaction left PENDING without one) and the outbox's retention (prunes old events).
import type { Client } from '@temporalio/client';
import type { Logger } from '../common/log';
import { ensurePaymentWorkflow } from '../common/payment-workflows';
import { pruneEvents } from '../db/events';
import type { Pool } from '../db/pool';
import { findStalePending } from '../db/transactions';

const sweepBatchMax = 500;
const pruneBatchMax = 10_000;

export interface MaintenanceOptions {
  pool: Pool;
  client: Client;
  taskQueue: string;
  log: Logger;
  sweepStaleAfterMs: number;
  sweepIntervalMs: number;
  eventRetentionMs: number;
  eventPruneIntervalMs: number;
}

/** Runs a job every intervalMs, one run at a time; a failed run is logged and tried at the next tick. */
function every(intervalMs: number, name: string, log: Logger, job: () => Promise<void>) {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(job).catch((error: unknown) => log.warn({ err: error, job: name }, 'maintenance job failed; will retry'));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

export function startMaintenance(options: MaintenanceOptions): { stop(): Promise<void> } {
  const { pool, log } = options;
  const stopSweeper = every(options.sweepIntervalMs, 'sweep', log, async () => {
    const stale = await findStalePending(pool, new Date(Date.now() - options.sweepStaleAfterMs), sweepBatchMax);
    for (const transaction of stale) {
      await ensurePaymentWorkflow({ client: options.client, taskQueue: options.taskQueue }, transaction);
    }
    if (stale.length > 0) log.info({ count: stale.length }, 'sweeper ensured workflows of PENDING transactions');
  });
  const stopPruner = every(options.eventPruneIntervalMs, 'prune-events', log, async () => {
    const olderThan = new Date(Date.now() - options.eventRetentionMs);
    let pruned = 0;
    for (let batch; (batch = await pruneEvents(pool, olderThan, pruneBatchMax)) > 0; ) pruned += batch;
    if (pruned > 0) log.info({ pruned, olderThan }, 'pruned outbox events past retention');
  });
  return {
    async stop() {
      await Promise.all([stopSweeper(), stopPruner()]);
    },
  };
}
