// When the drill may look: no transaction left unfinished or holding money, no refund undecided, no payment
// or reconciliation workflow running, no bank webhook still being delivered; and still so after the
// reconciler (a Temporal Schedule) has had time for further passes.
import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool';
import { bankRequest } from './bank';
import { paymentWorkflowTypes, workflowsQuery } from './operator';

export interface QuietState {
  unfinished: string[];
  openHolds: string[];
  refundsUndecided: string[];
  runningWorkflows: string[];
  pendingDeliveries: number;
}

export interface QuietContext {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  bankUrl: string;
}

const listedMax = 50;

export const isQuiet = (state: QuietState): boolean =>
  state.unfinished.length + state.openHolds.length + state.refundsUndecided.length + state.runningWorkflows.length + state.pendingDeliveries === 0;

export const describeQuiet = (state: QuietState): string =>
  `unfinished=${state.unfinished.length} open-holds=${state.openHolds.length} refunds-undecided=${state.refundsUndecided.length} running-workflows=${state.runningWorkflows.length} pending-webhooks=${state.pendingDeliveries}`;

export async function quietState(context: QuietContext): Promise<QuietState> {
  const { rows: unfinished } = await context.pool.query<{ id: string; kind: string; status: string }>(
    `SELECT id, kind, status FROM transactions WHERE status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED') ORDER BY created_at LIMIT $1`,
    [listedMax],
  );
  const { rows: holds } = await context.pool.query<{ transaction_id: string }>(
    `SELECT p.transaction_id FROM ledger_transfers p
     WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id) LIMIT $1`,
    [listedMax],
  );
  const { rows: refunds } = await context.pool.query<{ transaction_id: string; status: string }>(
    `SELECT transaction_id, status FROM bank_refunds WHERE status NOT IN ('succeeded', 'failed') LIMIT $1`,
    [listedMax],
  );
  const runningWorkflows: string[] = [];
  for await (const execution of context.temporal.workflow.list({ query: workflowsQuery(context.taskQueue, [...paymentWorkflowTypes, 'reconcileWorkflow'], 'Running') })) {
    runningWorkflows.push(execution.workflowId);
    if (runningWorkflows.length >= listedMax) break;
  }
  const stats = await bankRequest(context.bankUrl, 'GET', '/v1/_stats');
  return {
    unfinished: unfinished.map((row) => `${row.kind} ${row.id} ${row.status}`),
    openHolds: holds.map((row) => row.transaction_id),
    refundsUndecided: refunds.map((row) => `${row.transaction_id} ${row.status}`),
    runningWorkflows,
    pendingDeliveries: Number(stats.body?.deliveries?.pending ?? 0),
  };
}

/**
 * Waits until the system is quiet twice, settleMs apart (long enough for the reconciler's passes to find
 * anything stale), or timeoutMs; answers the last state seen.
 */
export async function waitUntilQuiet(context: QuietContext, settleMs: number, timeoutMs: number, log: (line: string) => void): Promise<QuietState> {
  const deadline = Date.now() + timeoutMs;
  let quietSince: number | null = null;
  let lastLogAt = 0;
  for (;;) {
    const state = await quietState(context).catch((error: unknown) => {
      log(`drill: cannot read the system's state yet: ${String(error).slice(0, 200)}`);
      return null;
    });
    if (state && isQuiet(state)) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= settleMs) return state;
    } else {
      quietSince = null;
    }
    if (Date.now() > deadline) {
      if (state) log(`drill: not quiet after ${timeoutMs} ms: ${describeQuiet(state)}`);
      return state ?? { unfinished: ['(unreadable)'], openHolds: [], refundsUndecided: [], runningWorkflows: [], pendingDeliveries: 0 };
    }
    if (state && Date.now() - lastLogAt > 10_000) {
      lastLogAt = Date.now();
      log(`drill: waiting for quiet: ${describeQuiet(state)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
