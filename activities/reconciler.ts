// The reconciler's leaf work (run by workflows/reconciler.ts on a Temporal Schedule): page through every
// transaction left unfinished (not final, unchanged for a while) and every hold without a live payment,
// oldest first, and make sure something finishes each: its own workflow (started when it never ran),
// or a reconciliation (when its workflow is closed or gone). Nothing is skipped silently.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ensurePaymentWorkflow, ensureReconciliation } from '../common/payment-workflows';
import { workflowIdFor, type TransactionKind, type TransactionStatus } from '../common/transactions';
import { pruneEvents } from '../db/events';
import type { Pool } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import { findTransactions } from '../db/transactions';

export interface ReconcilerDependencies {
  pool: Pool;
  client: Client;
  taskQueue: string;
  staleAfterMs: number;
  eventRetentionMs: number;
}

export interface ReconcileCursor {
  updatedAt: string;
  id: string;
}

export interface ReconcilePage {
  next: ReconcileCursor | null;
  examined: number;
  running: number;
  started: number;
  reconciling: number;
  flagged: number;
}

const pageSizeMax = 200;
const pruneBatchMax = 10_000;

interface Candidate {
  id: string;
  kind: TransactionKind;
  status: TransactionStatus;
  userId: string;
  updatedAt: Date;
  openHold: boolean;
}

/**
 * Every transaction that needs a look, oldest change first: not final and unchanged for a while; final
 * but still holding money; or an on-ramp that ended FAILED BANK_UNAVAILABLE (the bank may have been paid
 * after all) whose bank's final word is not yet recorded and that was not refunded.
 */
async function findCandidates(deps: ReconcilerDependencies, after: ReconcileCursor | null): Promise<Candidate[]> {
  const result = await deps.pool.query<Candidate>(
    `WITH open_holds AS (
       SELECT p.transaction_id FROM ledger_transfers p
       WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id))
     SELECT t.id, t.kind, t.status, t.user_id AS "userId", t.updated_at AS "updatedAt",
            (t.status IN ('COMPLETED', 'FAILED', 'EXPIRED') AND t.id IN (SELECT transaction_id FROM open_holds)) AS "openHold"
     FROM transactions t
     WHERE t.updated_at < now() - make_interval(secs => $1::double precision / 1000)
       AND (t.status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED')
         OR t.id IN (SELECT transaction_id FROM open_holds)
         OR (t.kind = 'ON_RAMP' AND t.status = 'FAILED' AND t.failure_code = 'BANK_UNAVAILABLE'
             AND NOT EXISTS (SELECT 1 FROM bank_final_checks c WHERE c.transaction_id = t.id)
             AND NOT EXISTS (SELECT 1 FROM bank_refunds r WHERE r.transaction_id = t.id)))
       AND ($2::timestamptz IS NULL OR (t.updated_at, t.id) > ($2::timestamptz, $3::uuid))
     ORDER BY t.updated_at, t.id LIMIT $4`,
    [deps.staleAfterMs, after?.updatedAt ?? null, after?.id ?? null, pageSizeMax],
  );
  return result.rows;
}

type WorkflowState = 'running' | 'closed' | 'missing';

async function workflowState(client: Client, workflowId: string): Promise<WorkflowState> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return description.status.name === 'RUNNING' ? 'running' : 'closed';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'missing';
    throw error;
  }
}

export function createReconcilerActivities(deps: ReconcilerDependencies) {
  const target = { client: deps.client, taskQueue: deps.taskQueue };
  return {
    /** One page of the reconciler's pass, oldest first; next is null when the pass is through. */
    async reconcilePage({ after }: { after: ReconcileCursor | null }): Promise<ReconcilePage> {
      const candidates = await findCandidates(deps, after);
      const page: ReconcilePage = { next: null, examined: candidates.length, running: 0, started: 0, reconciling: 0, flagged: 0 };
      const rows = await findTransactions(deps.pool, candidates.map((candidate) => candidate.id));
      for (const candidate of candidates) {
        // A worker that dies mid-page is noticed at the heartbeat timeout, not at start-to-close.
        Context.current().heartbeat();
        if (candidate.openHold) {
          // A final transaction still holding money: the SQL steps never leave one, so a person must look.
          await recordSecurityEvent(deps.pool, { kind: 'reconcile.hold_without_payment', outcome: 'flagged', userId: candidate.userId, actor: 'system', subject: candidate.id });
          page.flagged++;
          continue;
        }
        const state = await workflowState(deps.client, workflowIdFor(candidate.kind, candidate.id));
        if (state === 'running') {
          page.running++;
        } else if (state === 'missing' && (candidate.status === 'PENDING' || candidate.status === 'IN_REVIEW')) {
          await ensurePaymentWorkflow(target, rows.get(candidate.id)!);
          page.started++;
        } else {
          await ensureReconciliation(target, candidate, `reconciler: ${candidate.status} and its workflow is ${state}`);
          page.reconciling++;
        }
      }
      const last = candidates.at(-1);
      if (candidates.length === pageSizeMax && last) page.next = { updatedAt: last.updatedAt.toISOString(), id: last.id };
      return page;
    },

    /** Deletes outbox events past retention, a batch at a time; the count deleted. */
    async pruneEventsPastRetention(): Promise<number> {
      const olderThan = new Date(Date.now() - deps.eventRetentionMs);
      let pruned = 0;
      for (let batch; (batch = await pruneEvents(deps.pool, olderThan, pruneBatchMax)) > 0; ) {
        pruned += batch;
        Context.current().heartbeat();
      }
      return pruned;
    },
  };
}
