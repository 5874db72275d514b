// Background jobs as workflows on Temporal Schedules (visible and steerable in the Temporal UI):
// the reconciler pages through everything left unfinished, oldest first, every pass through to the
// end (continuing as new on long passes, so it never starves newer rows); the retention job prunes
// outbox events past their retention.
import { continueAsNew, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ReconcileCursor } from '../activities/reconciler';
import { ledgerRetry } from './retry-policies';

// Heartbeats: a worker that dies mid-page is noticed in seconds, so the Schedule (which skips a pass
// while one runs) is never held up for the start-to-close bound.
const { reconcilePage, pruneEventsPastRetention } = proxyActivities<Activities>({ startToCloseTimeout: '2m', heartbeatTimeout: '10s', retry: ledgerRetry });
const { reconcileStatement } = proxyActivities<Activities>({ startToCloseTimeout: '10m', retry: ledgerRetry });

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

const dayMs = 24 * 3600 * 1000;

/**
 * The daily statement reconciliation: the bank's succeeded payments, payouts and refunds of a period
 * (by default the previous UTC day, from the workflow's own clock) against the ledger.
 */
export async function statementReconciliationWorkflow(period: { from?: string; to?: string } = {}) {
  const to = period.to ?? new Date(Math.floor(Date.now() / dayMs) * dayMs).toISOString();
  const from = period.from ?? new Date(Date.parse(to) - dayMs).toISOString();
  const report = await reconcileStatement({ from, to });
  if (report.mismatches.length > 0) log.warn('statement mismatches', { from, to, mismatches: report.mismatches.length });
  return report;
}
