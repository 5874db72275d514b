// The sweeper: a transaction recorded by the API whose workflow start was lost (a crash between the
// insert and the start) would otherwise stay PENDING forever. Starting a workflow is idempotent.
import type { Client } from '@temporalio/client';
import type { Logger } from '../common/log';
import { ensurePaymentWorkflow } from '../common/payment-workflows';
import type { Pool } from '../db/pool';
import { findStalePending } from '../db/transactions';

export interface SweeperOptions {
  pool: Pool;
  client: Client;
  taskQueue: string;
  log: Logger;
  staleAfterMs: number;
  intervalMs: number;
}

const sweepBatchMax = 500;

export function startSweeper(options: SweeperOptions): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const sweep = async (): Promise<void> => {
    const stale = await findStalePending(options.pool, new Date(Date.now() - options.staleAfterMs), sweepBatchMax);
    for (const transaction of stale) {
      await ensurePaymentWorkflow({ client: options.client, taskQueue: options.taskQueue }, transaction);
    }
    if (stale.length > 0) options.log.info({ count: stale.length }, 'sweeper ensured workflows of unfinished transactions');
  };
  const timer = setInterval(() => {
    running = running.then(sweep).catch((error: unknown) => options.log.warn({ err: error }, 'sweep failed; will retry'));
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
