// Background jobs as workflows on Temporal Schedules (visible and steerable in the Temporal UI):
// the reconciler pages through everything left unfinished, oldest first, every pass through to the
// end (continuing as new on long passes, so it never starves newer rows); the retention job prunes
// outbox events past their retention.
import { continueAsNew, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ReconcileCursor } from '../activities/reconciler';
import { ledgerRetry } from './retry-policies';

const { reconcilePage, pruneEventsPastRetention } = proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: ledgerRetry });

/** Pages one run handles before continuing as new (bounded history). */
const pagesPerRunMax = 20;

export interface ReconcilerTotals {
  examined: number;
  running: number;
  started: number;
  reconciling: number;
  flagged: number;
}

export async function reconcilerWorkflow(input: { after?: ReconcileCursor | null; totals?: ReconcilerTotals } = {}): Promise<ReconcilerTotals> {
  const totals: ReconcilerTotals = input.totals ?? { examined: 0, running: 0, started: 0, reconciling: 0, flagged: 0 };
  let after = input.after ?? null;
  for (let pages = 0; pages < pagesPerRunMax; pages++) {
    const page = await reconcilePage({ after });
    for (const key of Object.keys(totals) as Array<keyof ReconcilerTotals>) totals[key] += page[key];
    if (!page.next) {
      if (totals.started + totals.reconciling + totals.flagged > 0) log.info('reconciler pass done', { ...totals });
      return totals;
    }
    after = page.next;
  }
  return continueAsNew<typeof reconcilerWorkflow>({ after, totals });
}

export async function eventRetentionWorkflow(): Promise<number> {
  return pruneEventsPastRetention();
}
