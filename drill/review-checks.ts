// The drill's fraud-review invariant (issue 12), checked once quiet: every payment the rules sent to review
// ended as it was decided (approved: a send completed, a withdrawal went to the bank; rejected: FAILED
// REVIEW_REJECTED; undecided: FAILED REVIEW_TIMEOUT), held nothing after, paid a rejected or timed-out
// send's recipient nothing, and carries exactly one recorded decision; the simulated operator's decisions
// (late and duplicate ones included) agree with what was recorded; no ordinary payment was reviewed.
import { workflowIdFor } from '../common/transactions';
import { ledgerTransferId } from '../db/ledger';
import type { Pool } from '../db/pool';
import { bankObjectByReference } from './bank';
import type { CheckResult } from './checks';
import type { Termination } from './operator';
import { flaggedAmountMin, type ReviewRecord } from './reviewer';

export interface ReviewCheckContext {
  pool: Pool;
  bankUrl: string;
  terminations: readonly Termination[];
  reviewer: { name: string; records: ReadonlyMap<string, ReviewRecord> };
}

export interface ReviewCounts {
  reviews: number;
  approved: number;
  rejected: number;
  timedOut: number;
  /** Flagged, but the sender could not cover it: FAILED INSUFFICIENT_FUNDS before any review. */
  unfunded: number;
  late: number;
  duplicates: number;
  viaTemporalUi: number;
}

interface ReviewedRow {
  id: string;
  kind: 'TRANSFER' | 'OFF_RAMP';
  status: string;
  failure_code: string | null;
  amount: bigint;
  outcome: 'APPROVED' | 'REJECTED' | 'TIMED_OUT' | null;
  reviewed_by: string | null;
  /** Decided by an operator after the review's deadline, before its workflow had expired it. */
  after_deadline: boolean;
}

type Movements = Map<string, Array<{ id: string; kind: string }>>;

const expectedEnd = { REJECTED: 'REVIEW_REJECTED', TIMED_OUT: 'REVIEW_TIMEOUT' } as const;

async function countsBySubject(pool: Pool, sql: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ subject: string; count: number }>(sql);
  return new Map(rows.map((row) => [row.subject, row.count]));
}

/** What a reviewed payment's ledger movements and bank object must be, given how its review ended. */
async function moneyAsDecided(context: ReviewCheckContext, row: ReviewedRow, movements: Array<{ id: string; kind: string }>, terminated: boolean): Promise<string[]> {
  const has = (leg: string) => movements.some((movement) => movement.id === ledgerTransferId(row.id, leg));
  const what = `${row.kind} ${row.id} (${row.outcome ?? 'undecided'}, ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''})`;
  const violations: string[] = [];
  if (has('hold') && has('post') === has('void')) violations.push(`${what}: its hold is ${has('post') ? 'both posted and voided' : 'still held'}`);
  const moved = has('post') || has('transfer');
  if (row.outcome !== 'APPROVED' && moved) violations.push(`${what}: money moved (${row.kind === 'TRANSFER' ? "the recipient was paid" : 'the payout was posted'}) though it was not approved`);
  if (row.kind === 'TRANSFER') {
    if (row.outcome === 'APPROVED' && (row.status !== 'COMPLETED' || !has('post'))) violations.push(`${what}: approved, but not completed from its hold`);
    return violations;
  }
  const payout = await bankObjectByReference(context.bankUrl, 'payouts', row.id);
  if (row.outcome !== 'APPROVED' && payout) violations.push(`${what}: not approved, yet payout ${payout.id} is at the bank (${payout.status})`);
  if (row.outcome === 'APPROVED' && !payout) {
    // Approved, it went to the bank, unless the bank could not be reached, the drill's operator ended its
    // workflow first (the reconciliation then ends a payout the bank never had NOT_AT_BANK), or it was
    // approved before its workflow could hold the amount, which the wallet no longer had.
    const excused = row.failure_code === 'BANK_UNAVAILABLE' || (terminated && row.failure_code === 'NOT_AT_BANK') ||
      (row.failure_code === 'INSUFFICIENT_FUNDS' && !has('hold'));
    if (!excused) violations.push(`${what}: approved, but it never went to the bank`);
  }
  return violations;
}

/** The simulated operator's decisions against the recorded outcome. */
function reviewerAgrees(row: ReviewedRow, record: ReviewRecord | undefined, operator: string, counts: ReviewCounts): string[] {
  const outcome = row.outcome;
  const what = `${row.kind} ${row.id} (${outcome ?? 'undecided'})`;
  if (!record) {
    // Never seen by the reviewer (it waited while the API was down, or never waited): no one decided it.
    return outcome === 'APPROVED' || outcome === 'REJECTED' ? [`${what}: decided, though the reviewer never saw it`] : [];
  }
  const violations: string[] = [];
  const decisions = record.attempts.filter((attempt) => attempt.role === 'decision');
  counts.late += record.attempts.filter((attempt) => attempt.role === 'late').length;
  counts.duplicates += record.attempts.filter((attempt) => attempt.role === 'duplicate').length;
  // Flagged, but its withdrawal's hold then failed (INSUFFICIENT_FUNDS) before anyone decided: no outcome.
  if (outcome === null) return record.attempts.some((attempt) => attempt.answer === 'decided') ? [`${what}: the API took a decision that is not on record`] : [];
  if (record.plan === 'TIMEOUT' && outcome !== 'TIMED_OUT') violations.push(`${what}: the reviewer let it time out`);
  if (record.plan !== 'TIMEOUT') {
    const intended = record.plan === 'APPROVE' ? 'APPROVED' : 'REJECTED';
    const recorded = decisions.some((attempt) => attempt.answer === 'decided');
    // A decision whose answer was lost, or a signal, may have been recorded or may have come too late.
    if (recorded && outcome !== intended) violations.push(`${what}: the API recorded the reviewer's ${record.plan}`);
    if (!recorded && outcome !== intended && outcome !== 'TIMED_OUT') violations.push(`${what}: the reviewer's only decision was ${record.plan}`);
    if (outcome === intended && row.reviewed_by !== `operator:${operator}`) violations.push(`${what}: recorded as decided by ${row.reviewed_by}, not operator:${operator}`);
    const refusedFirst = decisions.find((attempt) => attempt.answer === 'not-in-review' && !attempt.retried);
    if (refusedFirst && outcome === intended) violations.push(`${what}: the API refused the reviewer's only ${record.plan} (${refusedFirst.detail}), yet it is recorded`);
  }
  for (const attempt of record.attempts.filter((candidate) => candidate.role !== 'decision')) {
    // A late or duplicate decision the API took, or a running workflow's signal the database recorded, is a second decision.
    if (attempt.answer === 'decided') violations.push(`${what}: a ${attempt.role} ${attempt.decision} via ${attempt.via} was taken as a decision`);
  }
  return violations;
}

export async function reviewsEndedAsDecided(context: ReviewCheckContext, movementsOf: Movements): Promise<{ result: CheckResult; counts: ReviewCounts }> {
  const { rows } = await context.pool.query<ReviewedRow>(
    `SELECT t.id, t.kind, t.status, t.failure_code, t.amount, d.review_outcome AS outcome, d.reviewed_by,
       coalesce(d.review_outcome IN ('APPROVED', 'REJECTED') AND d.reviewed_at > d.review_deadline_at, false) AS after_deadline
     FROM fraud_decisions d JOIN transactions t ON t.id = d.transaction_id WHERE d.review ORDER BY t.created_at`,
  );
  const decided = await countsBySubject(context.pool, `SELECT subject, count(*)::int AS count FROM operator_actions WHERE action = 'decide_review' AND outcome = 'decided' GROUP BY subject`);
  const decidedEvents = await countsBySubject(context.pool, `SELECT subject, count(*)::int AS count FROM security_events WHERE kind = 'review.decided' AND outcome = 'success' GROUP BY subject`);
  const timedOutEvents = await countsBySubject(context.pool, `SELECT subject, count(*)::int AS count FROM security_events WHERE kind = 'review.timed_out' GROUP BY subject`);
  const viaUi = await countsBySubject(context.pool, `SELECT subject, count(*)::int AS count FROM operator_actions WHERE action = 'decide_review' AND outcome = 'decided' AND via = 'temporal-ui' GROUP BY subject`);
  const terminatedIds = new Set(context.terminations.map((termination) => termination.workflowId));
  const counts: ReviewCounts = { reviews: rows.length, approved: 0, rejected: 0, timedOut: 0, unfunded: 0, late: 0, duplicates: 0, viaTemporalUi: 0 };
  const violations: string[] = [];
  for (const row of rows) {
    const what = `${row.kind} ${row.id} (${row.outcome ?? 'undecided'}, ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''})`;
    if (row.amount < BigInt(flaggedAmountMin)) violations.push(`${what}: an ordinary payment of ${row.amount} was reviewed`);
    if (row.outcome === 'APPROVED') counts.approved++;
    else if (row.outcome === 'REJECTED') counts.rejected++;
    else if (row.outcome === 'TIMED_OUT') counts.timedOut++;
    counts.viaTemporalUi += viaUi.get(row.id) ?? 0;
    if (row.outcome === null) {
      // Flagged, but it never waited: the sender could not cover it.
      if (row.status === 'FAILED' && row.failure_code === 'INSUFFICIENT_FUNDS') counts.unfunded++;
      else violations.push(`${what}: never decided nor timed out`);
    } else if (row.outcome !== 'APPROVED' && (row.status !== 'FAILED' || row.failure_code !== expectedEnd[row.outcome])) {
      violations.push(`${what}: expected FAILED ${expectedEnd[row.outcome]}`);
    }
    // Exactly one decision on record: an operator's (audit and security event) or the deadline's.
    const operatorDecisions = decided.get(row.id) ?? 0;
    const decisionEvents = decidedEvents.get(row.id) ?? 0;
    const timeouts = timedOutEvents.get(row.id) ?? 0;
    const byOperator = row.outcome === 'APPROVED' || row.outcome === 'REJECTED' ? 1 : 0;
    if (operatorDecisions !== byOperator || decisionEvents !== byOperator || timeouts !== (row.outcome === 'TIMED_OUT' ? 1 : 0)) {
      violations.push(`${what}: ${operatorDecisions} operator decision(s) in the audit, ${decisionEvents} review.decided and ${timeouts} review.timed_out event(s)`);
    }
    const terminated = terminatedIds.has(workflowIdFor(row.kind, row.id));
    violations.push(...(await moneyAsDecided(context, row, movementsOf.get(row.id) ?? [], terminated)));
    violations.push(...reviewerAgrees(row, context.reviewer.records.get(row.id), context.reviewer.name, counts));
  }
  for (const record of context.reviewer.records.values()) {
    if (!rows.some((row) => row.id === record.transactionId)) violations.push(`the reviewer found ${record.transactionId} waiting, but it has no review`);
  }
  const name =
    `11 every reviewed payment ended as decided, nothing held, one decision on record (${counts.reviews} flagged: ${counts.approved} approved, ` +
    `${counts.rejected} rejected, ${counts.timedOut} timed out, ${counts.unfunded} unfunded; ${counts.viaTemporalUi} decided via the Temporal UI, ` +
    `${counts.duplicates} duplicate and ${counts.late} late decisions changed nothing; ${rows.filter((row) => row.after_deadline).length} decided past the deadline before it was expired)`;
  return { result: { name, violations }, counts };
}
