// The drill's fraud-review invariant (issue 12), checked once quiet: every payment the rules sent to review
// ended as it was decided (approved: a send completed, a withdrawal went to the bank; rejected: FAILED
// REVIEW_REJECTED; undecided: FAILED REVIEW_TIMEOUT), held nothing after, paid a rejected or timed-out
// send's recipient nothing, and carries exactly one recorded outcome (an operator's decision before the
// deadline, or the deadline's; a decision after it changed nothing); the simulated operator's decisions (late
// and duplicate ones included) agree with what was recorded; no ordinary payment was reviewed.
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
  /** Late decisions the reviewer sent (after the deadline). */
  late: number;
  duplicates: number;
  viaTemporalUi: number;
  /** Decisions the database refused as past the deadline (operator_actions 'past_deadline'), by either path. */
  pastDeadline: number;
}

interface ReviewedRow {
  id: string;
  kind: 'TRANSFER' | 'OFF_RAMP';
  status: string;
  failure_code: string | null;
  amount: bigint;
  outcome: 'APPROVED' | 'REJECTED' | 'TIMED_OUT' | null;
  reviewed_by: string | null;
  /** The outcome was recorded before the review's deadline (or it had none); null while undecided. */
  in_time: boolean | null;
}

/** A reviewed payment's decide_review rows in operator_actions, by outcome. */
interface AuditRow {
  subject: string;
  decided: number;
  decided_via_ui: number;
  past_deadline: number;
  past_deadline_via_api: number;
  /** 'past_deadline' rows written before the deadline: the database refused a decision in time. */
  past_deadline_early: number;
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

/** What the audit says of one payment's review: an operator's decision in time, or late ones that changed nothing. */
function auditAgrees(row: ReviewedRow, audit: AuditRow | undefined): string[] {
  const what = `${row.kind} ${row.id} (${row.outcome ?? 'undecided'}, ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''})`;
  const violations: string[] = [];
  if ((audit?.decided ?? 0) > 0 && row.in_time !== true) violations.push(`${what}: decided by an operator at or after its deadline`);
  if ((audit?.past_deadline ?? 0) > 0) {
    // Refused past the deadline: the database ended the payment for want of a decision, whatever was decided.
    if (row.outcome !== 'TIMED_OUT' || row.status !== 'FAILED' || row.failure_code !== 'REVIEW_TIMEOUT' || audit!.decided > 0) {
      violations.push(`${what}: ${audit!.past_deadline} decision(s) refused past the deadline, yet it did not end REVIEW_TIMEOUT undecided (${audit!.decided} decided)`);
    }
    if (audit!.past_deadline_early > 0) violations.push(`${what}: ${audit!.past_deadline_early} decision(s) refused as past the deadline before it`);
  }
  return violations;
}

/** The simulated operator's decisions against the recorded outcome. */
function reviewerAgrees(row: ReviewedRow, record: ReviewRecord | undefined, operator: string, audit: AuditRow | undefined, counts: ReviewCounts): string[] {
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
  // The API's REVIEW_DEADLINE_PASSED: the database ended the payment REVIEW_TIMEOUT then and audited the refusal.
  const refusedLate = record.attempts.filter((attempt) => attempt.answer === 'past-deadline');
  for (const attempt of refusedLate) {
    if (outcome !== 'TIMED_OUT') violations.push(`${what}: the API refused a ${attempt.role} ${attempt.decision} as past the deadline, yet it ended ${outcome ?? 'undecided'}`);
  }
  if (refusedLate.length > (audit?.past_deadline_via_api ?? 0)) {
    violations.push(`${what}: the API refused ${refusedLate.length} decision(s) as past the deadline, but ${audit?.past_deadline_via_api ?? 0} are audited`);
  }
  // Flagged, but its withdrawal's hold then failed (INSUFFICIENT_FUNDS) before anyone decided: no outcome.
  if (outcome === null) return record.attempts.some((attempt) => attempt.answer === 'decided') ? [...violations, `${what}: the API took a decision that is not on record`] : violations;
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
       -- reviewed_at is the deciding transaction's start, before zp_decide_review looked at the clock.
       CASE WHEN d.review_outcome IS NULL THEN NULL ELSE d.review_deadline_at IS NULL OR d.reviewed_at < d.review_deadline_at END AS in_time
     FROM fraud_decisions d JOIN transactions t ON t.id = d.transaction_id WHERE d.review ORDER BY t.created_at`,
  );
  // Every decision an operator sent, by its outcome: 'decided' (it decided), 'past_deadline' (too late: the
  // database ended the payment REVIEW_TIMEOUT instead), the rest refused (no longer in review). A refusal's
  // occurred_at is the clock after zp_decide_review looked at it.
  const { rows: auditRows } = await context.pool.query<AuditRow>(
    `SELECT a.subject,
       count(*) FILTER (WHERE a.outcome = 'decided')::int AS decided,
       count(*) FILTER (WHERE a.outcome = 'decided' AND a.via = 'temporal-ui')::int AS decided_via_ui,
       count(*) FILTER (WHERE a.outcome = 'past_deadline')::int AS past_deadline,
       count(*) FILTER (WHERE a.outcome = 'past_deadline' AND a.via = 'operator-api')::int AS past_deadline_via_api,
       count(*) FILTER (WHERE a.outcome = 'past_deadline' AND (d.review_deadline_at IS NULL OR a.occurred_at < d.review_deadline_at))::int AS past_deadline_early
     FROM operator_actions a LEFT JOIN fraud_decisions d ON d.transaction_id::text = a.subject
     WHERE a.action = 'decide_review' GROUP BY a.subject`,
  );
  const audits = new Map(auditRows.map((audit) => [audit.subject, audit]));
  const decidedEvents = await countsBySubject(context.pool, `SELECT subject, count(*)::int AS count FROM security_events WHERE kind = 'review.decided' AND outcome = 'success' GROUP BY subject`);
  const timedOutEvents = await countsBySubject(context.pool, `SELECT subject, count(*)::int AS count FROM security_events WHERE kind = 'review.timed_out' GROUP BY subject`);
  const terminatedIds = new Set(context.terminations.map((termination) => termination.workflowId));
  const counts: ReviewCounts = { reviews: rows.length, approved: 0, rejected: 0, timedOut: 0, unfunded: 0, late: 0, duplicates: 0, viaTemporalUi: 0, pastDeadline: 0 };
  const violations: string[] = [];
  for (const row of rows) {
    const what = `${row.kind} ${row.id} (${row.outcome ?? 'undecided'}, ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''})`;
    if (row.amount < BigInt(flaggedAmountMin)) violations.push(`${what}: an ordinary payment of ${row.amount} was reviewed`);
    if (row.outcome === 'APPROVED') counts.approved++;
    else if (row.outcome === 'REJECTED') counts.rejected++;
    else if (row.outcome === 'TIMED_OUT') counts.timedOut++;
    const audit = audits.get(row.id);
    counts.viaTemporalUi += audit?.decided_via_ui ?? 0;
    counts.pastDeadline += audit?.past_deadline ?? 0;
    if (row.outcome === null) {
      // Flagged, but it never waited: the sender could not cover it.
      if (row.status === 'FAILED' && row.failure_code === 'INSUFFICIENT_FUNDS') counts.unfunded++;
      else violations.push(`${what}: never decided nor timed out`);
    } else if (row.outcome !== 'APPROVED' && (row.status !== 'FAILED' || row.failure_code !== expectedEnd[row.outcome])) {
      violations.push(`${what}: expected FAILED ${expectedEnd[row.outcome]}`);
    }
    // Exactly one outcome on record: an operator's decision (audit and security event) or the deadline's.
    const operatorDecisions = audit?.decided ?? 0;
    const decisionEvents = decidedEvents.get(row.id) ?? 0;
    const timeouts = timedOutEvents.get(row.id) ?? 0;
    const byOperator = row.outcome === 'APPROVED' || row.outcome === 'REJECTED' ? 1 : 0;
    if (operatorDecisions !== byOperator || decisionEvents !== byOperator || timeouts !== (row.outcome === 'TIMED_OUT' ? 1 : 0)) {
      violations.push(`${what}: ${operatorDecisions} operator decision(s) in the audit, ${decisionEvents} review.decided and ${timeouts} review.timed_out event(s)`);
    }
    const terminated = terminatedIds.has(workflowIdFor(row.kind, row.id));
    violations.push(...(await moneyAsDecided(context, row, movementsOf.get(row.id) ?? [], terminated)));
    violations.push(...auditAgrees(row, audit));
    violations.push(...reviewerAgrees(row, context.reviewer.records.get(row.id), context.reviewer.name, audit, counts));
  }
  for (const record of context.reviewer.records.values()) {
    if (!rows.some((row) => row.id === record.transactionId)) violations.push(`the reviewer found ${record.transactionId} waiting, but it has no review`);
  }
  for (const audit of auditRows) {
    if (audit.decided + audit.past_deadline > 0 && !rows.some((row) => row.id === audit.subject)) violations.push(`${audit.subject}: ${audit.decided + audit.past_deadline} review decision(s) audited, but it has no review`);
  }
  const name =
    `11 every reviewed payment ended as decided before its deadline or timed out, nothing held, one outcome on record (${counts.reviews} flagged: ` +
    `${counts.approved} approved, ${counts.rejected} rejected, ${counts.timedOut} timed out, ${counts.unfunded} unfunded; ${counts.viaTemporalUi} decided via ` +
    `the Temporal UI, ${counts.duplicates} duplicate and ${counts.late} late decisions changed nothing, ${counts.pastDeadline} refused past the deadline)`;
  return { result: { name, violations }, counts };
}
