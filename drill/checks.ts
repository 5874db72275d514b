// The drill's invariants, checked once the system is quiet. Each returns the evidence of any
// violation (ids, expected against found); an empty list means the invariant holds. The money-safety
// invariants of issue 10 (8 to 10) are in money-checks.ts, fraud review's (11) in review-checks.ts.
import type { Client } from '@temporalio/client';
import { auditLedger } from '../db/audit';
import { ledgerTransferId } from '../db/ledger';
import type { Pool } from '../db/pool';
import { bankObjectByReference, refundsOfPayment } from './bank';
import type { AcceptedPayment, BankAction, DrillClient } from './client';
import type { ForgedWord } from './forgery';
import { runMoneyChecks } from './money-checks';
import type { Termination } from './operator';
import { reviewsEndedAsDecided, type ReviewCheckContext, type ReviewCounts } from './review-checks';

export interface CheckResult {
  name: string;
  violations: string[];
}

export interface Row {
  id: string;
  kind: string;
  status: string;
  amount: bigint;
  user_id: string;
  counterparty_user_id: string | null;
  failure_code: string | null;
}

export interface Tally {
  lost: number;
  duplicated: number;
  created: number;
}

export interface CheckContext {
  pool: Pool;
  clients: readonly DrillClient[];
  bankUrl: string;
  temporal: Client;
  taskQueue: string;
  /** Workflow runs the drill's operator terminated (every other terminated run is a violation). */
  terminations: readonly Termination[];
  forged: readonly ForgedWord[];
  statementFrom: Date;
  /** The simulated operator of fraud review and what it did. */
  reviewer: ReviewCheckContext['reviewer'];
}

const finalStatuses = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);

export async function runChecks(context: CheckContext): Promise<{ results: CheckResult[]; tally: Tally; reviews: ReviewCounts }> {
  const tally: Tally = { lost: 0, duplicated: 0, created: 0 };
  const accepted = context.clients.flatMap((client) => [...client.accepted.values()]);
  const { rows } = await context.pool.query<Row>(`SELECT id, kind, status, amount, user_id, counterparty_user_id, failure_code FROM transactions`);
  const byId = new Map(rows.map((row) => [row.id, row]));
  const { rows: movements } = await context.pool.query<{ id: string; transaction_id: string | null; kind: string; amount: bigint }>(
    `SELECT id, transaction_id, kind, amount FROM ledger_transfers`,
  );
  const movementsOf = new Map<string, typeof movements>();
  for (const movement of movements) {
    const key = movement.transaction_id ?? 'none';
    movementsOf.set(key, [...(movementsOf.get(key) ?? []), movement]);
  }

  const results: CheckResult[] = [];
  results.push(await ledgerSums(context.pool, tally));
  results.push(await walletsAndHolds(context.pool));
  const { rows: reviewedRows } = await context.pool.query<{ transaction_id: string }>(`SELECT transaction_id FROM fraud_decisions WHERE review`);
  const reviewed = new Set(reviewedRows.map((row) => row.transaction_id));
  results.push(transactionsAndMovements(accepted, rows, byId, movementsOf, context.clients, reviewed, tally));
  results.push(await walletsMatchModels(context, tally));
  results.push(await bankAgrees(context, rows, movementsOf, tally));
  results.push(await workflowsSettled(context));
  const { rows: refundRows } = await context.pool.query<{ transaction_id: string }>(`SELECT transaction_id FROM bank_refunds`);
  results.push(subscriptionsExactlyOnce(context.clients, accepted, byId, new Set(refundRows.map((row) => row.transaction_id)), tally));
  results.push(...(await runMoneyChecks(context, rows, byId, movementsOf, tally)));
  const review = await reviewsEndedAsDecided(context, movementsOf);
  results.push(review.result);
  return { results, tally, reviews: review.counts };
}

async function ledgerSums(pool: Pool, tally: Tally): Promise<CheckResult> {
  const audit = await auditLedger(pool);
  const violations: string[] = [];
  if (audit.postedSum !== 0n) violations.push(`posted balances sum to ${audit.postedSum}, not 0`);
  if (audit.pendingSum !== 0n) violations.push(`pending balances sum to ${audit.pendingSum}, not 0`);
  for (const id of audit.mismatchedAccounts) violations.push(`account ${id}: balances disagree with its transfers`);
  if (audit.postedSum !== 0n) tally.created += 1;
  return { name: '1 ledger sums to zero and balances equal their transfers', violations };
}

async function walletsAndHolds(pool: Pool): Promise<CheckResult> {
  const audit = await auditLedger(pool);
  const violations = audit.negativeWallets.map((id) => `wallet account ${id} is negative`);
  if (audit.heldTotal !== 0n) violations.push(`${audit.heldTotal} still held in wallets`);
  return { name: '2 no wallet negative, nothing held', violations };
}

/** What each final transaction must have moved in the ledger, by its transfer ids. */
function expectedMovements(row: Row, found: ReadonlyArray<{ id: string }>, reviewed: ReadonlySet<string>): Record<string, string> {
  const id = (leg: string) => ledgerTransferId(row.id, leg);
  if (row.kind === 'TRANSFER') {
    // A reviewed transfer was held from the sender's wallet to the recipient's while it waited (unless the
    // sender could not cover it): posted once approved, voided otherwise.
    const held = found.some((movement) => movement.id === id('hold')) || (reviewed.has(row.id) && row.failure_code !== 'INSUFFICIENT_FUNDS');
    if (held) return row.status === 'COMPLETED' ? { [id('hold')]: 'pending', [id('post')]: 'post_pending' } : { [id('hold')]: 'pending', [id('void')]: 'void_pending' };
    return row.status === 'COMPLETED' ? { [id('transfer')]: 'posted' } : {};
  }
  if (row.kind === 'ON_RAMP') return row.status === 'COMPLETED' ? { [id('credit')]: 'posted' } : {};
  if (row.status === 'COMPLETED') return { [id('hold')]: 'pending', [id('post')]: 'post_pending' };
  // A failed withdrawal either never held (INSUFFICIENT_FUNDS, or ended by a reconciliation before its
  // hold when the operator terminated its workflow early) or held and voided.
  return row.failure_code === 'INSUFFICIENT_FUNDS' || found.length === 0 ? {} : { [id('hold')]: 'pending', [id('void')]: 'void_pending' };
}

function transactionsAndMovements(
  accepted: readonly AcceptedPayment[],
  rows: readonly Row[],
  byId: Map<string, Row>,
  movementsOf: Map<string, Array<{ id: string; kind: string; amount: bigint }>>,
  clients: readonly DrillClient[],
  reviewed: ReadonlySet<string>,
  tally: Tally,
): CheckResult {
  const violations: string[] = [];
  for (const payment of accepted) {
    const row = byId.get(payment.id);
    if (!row) {
      violations.push(`accepted ${payment.id} is not in the database`);
      tally.lost += 1;
    } else if (!finalStatuses.has(row.status)) violations.push(`${row.id} is still ${row.status}`);
  }
  const acceptedIds = new Set(accepted.map((payment) => payment.id));
  for (const row of rows) {
    if (!acceptedIds.has(row.id)) violations.push(`${row.id} (${row.kind}) exists but no client was told of it`);
    const found = movementsOf.get(row.id) ?? [];
    const expected = expectedMovements(row, found, reviewed);
    const foundById = Object.fromEntries(found.map((movement) => [movement.id, movement.kind]));
    if (JSON.stringify(Object.entries(foundById).sort()) !== JSON.stringify(Object.entries(expected).sort())) {
      violations.push(`${row.id} ${row.kind} ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''}: movements ${JSON.stringify(foundById)}, expected ${JSON.stringify(expected)}`);
      if (found.length > Object.keys(expected).length) tally.duplicated += 1;
      else tally.lost += 1;
    }
    for (const movement of found) {
      if (movement.amount !== row.amount) violations.push(`${row.id}: movement ${movement.id} of ${movement.amount}, transaction of ${row.amount}`);
    }
  }
  for (const movement of movementsOf.get('none') ?? []) violations.push(`ledger movement ${movement.id} has no transaction`);
  for (const client of clients) {
    for (const violation of client.idempotencyViolations) {
      violations.push(`idempotency key answered with two transactions: ${violation}`);
      tally.duplicated += 1;
    }
  }
  return { name: '3 every accepted transaction final once, with exactly its ledger movements', violations };
}

async function walletsMatchModels(context: CheckContext, tally: Tally): Promise<CheckResult> {
  const violations: string[] = [];
  // Each client's model: what its own records and the outcomes it was told add up to.
  const expected = new Map<string, bigint>(context.clients.map((client) => [client.user.id, 0n]));
  for (const client of context.clients) {
    for (const payment of client.accepted.values()) {
      const outcome = await client.fetchStatus(payment.id);
      const action = client.bankActions.get(payment.id);
      if (action) violations.push(...(await bankActionKept(context, client, action, outcome?.status ?? 'unknown', tally)));
      if (!outcome || outcome.status !== 'COMPLETED') continue;
      const amount = BigInt(outcome.amount);
      if (payment.request.kind === 'ON_RAMP') expected.set(client.user.id, expected.get(client.user.id)! + amount);
      else expected.set(client.user.id, expected.get(client.user.id)! - amount);
      if (payment.request.kind === 'TRANSFER' && payment.counterpartyUserId) {
        expected.set(payment.counterpartyUserId, (expected.get(payment.counterpartyUserId) ?? 0n) + amount);
      }
    }
  }
  for (const client of context.clients) {
    const response = await fetch(client.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${client.user.token}` },
      body: JSON.stringify({ query: '{ viewer { wallet { available held } } }' }),
    });
    const wallet = ((await response.json()) as { data: { viewer: { wallet: { available: string; held: string } } } }).data.viewer.wallet;
    const want = expected.get(client.user.id)!;
    const have = BigInt(wallet.available) + BigInt(wallet.held);
    if (have !== want) {
      violations.push(`${client.user.name} (${client.user.id}): wallet ${have}, the client's records say ${want}`);
      if (have < want) tally.lost += 1;
      else tally.created += 1;
    }
  }
  return { name: "4 every wallet equals its clients' records, and every approval at the bank was credited or refunded", violations };
}

/**
 * The client's model of its money at the bank: a payment it approved (or found approved) took its money, so
 * the on-ramp is credited or, when it had ended already, refunded in full; one it could not approve took nothing.
 */
async function bankActionKept(context: CheckContext, client: DrillClient, action: BankAction, status: string, tally: Tally): Promise<string[]> {
  const took = action.paymentStatus === 'succeeded';
  const refunds = took ? await refundsOfPayment(context.bankUrl, action.paymentId) : [];
  const refunded = refunds.filter((refund) => refund.status === 'succeeded');
  const what = `${client.user.name}'s approval of ${action.transactionId} (${action.plan}, deadline${action.deadlineOffsetMs >= 0 ? '+' : ''}${action.deadlineOffsetMs} ms, on-ramp was ${action.statusBefore ?? 'not read'}, bank ${action.answer} ${action.paymentStatus})`;
  const refundText = JSON.stringify(refunds.map((refund) => [refund.amount, refund.status]));
  if (!took) {
    if (status !== 'COMPLETED') return [];
    tally.created += 1;
    return [`${what}: the bank took nothing, the on-ramp is COMPLETED`];
  }
  const endedBefore = action.statusBefore === 'FAILED' || action.statusBefore === 'EXPIRED';
  if (endedBefore && status !== action.statusBefore) {
    tally.created += 1;
    return [`${what}: it had ended ${action.statusBefore}, now it is ${status}`];
  }
  if (status === 'COMPLETED' && refunded.length === 0) return [];
  if (status !== 'COMPLETED' && refunded.length === 1) return [];
  // A refund the bank declined is flagged for an operator (README, "Money safety"), counted apart.
  if (status !== 'COMPLETED' && refunds.length > 0 && refunds.every((refund) => refund.status === 'failed') && (await refundFlagged(context, action.transactionId))) return [];
  if (status === 'COMPLETED') tally.created += 1;
  else tally.lost += 1;
  return [`${what}: the on-ramp is ${status}, refunds at the bank ${refundText}; expected credited or refunded, once`];
}

/** The engine flagged for an operator a refund of this on-ramp that the bank declined. */
async function refundFlagged(context: CheckContext, transactionId: string): Promise<boolean> {
  const { rowCount } = await context.pool.query(`SELECT 1 FROM security_events WHERE subject = $1 AND kind = 'reconcile.refund_failed'`, [transactionId]);
  return (rowCount ?? 0) > 0;
}

async function bankAgrees(
  context: CheckContext,
  rows: readonly Row[],
  movementsOf: Map<string, Array<{ id: string; kind: string }>>,
  tally: Tally,
): Promise<CheckResult> {
  const violations: string[] = [];
  for (const row of rows.filter((candidate) => candidate.kind !== 'TRANSFER')) {
    const object = await bankObjectByReference(context.bankUrl, row.kind === 'ON_RAMP' ? 'payments' : 'payouts', row.id);
    const bankStatus = object?.status ?? 'none';
    const moved = (movementsOf.get(row.id) ?? []).filter((movement) => movement.kind === 'posted' || movement.kind === 'post_pending').length;
    if (bankStatus === 'succeeded' && (row.status !== 'COMPLETED' || moved !== 1)) {
      // An on-ramp that ended before its payment succeeded agrees with the bank once the bank gave the money back.
      const refunded = row.kind === 'ON_RAMP' && row.status !== 'COMPLETED' && moved === 0 &&
        (await refundsOfPayment(context.bankUrl, object!.id)).some((refund) => refund.status === 'succeeded' && refund.amount === object!.amount);
      const declinedAndFlagged = row.kind === 'ON_RAMP' && row.status !== 'COMPLETED' && moved === 0 && (await refundFlagged(context, row.id)) &&
        (await refundsOfPayment(context.bankUrl, object!.id)).every((refund) => refund.status === 'failed');
      if (!refunded && !declinedAndFlagged) {
        // A payout the bank made while its hold was released paid the money out and left it in the wallet too.
        const { rows: flagged } = await context.pool.query<{ kind: string }>(`SELECT kind FROM security_events WHERE subject = $1 AND outcome = 'flagged'`, [row.id]);
        const what = row.kind === 'OFF_RAMP' ? 'paid out and released (money created)' : 'taken and not credited';
        violations.push(
          `${row.kind} ${row.id}: the bank says succeeded (${object!.id}, decided ${object!.decidedAt}), ZenPAY says ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''} with ${moved} posted movements: ${what}; flagged ${JSON.stringify(flagged.map((event) => event.kind))}`,
        );
        if (row.kind === 'OFF_RAMP') tally.created += 1;
        else tally.lost += 1;
      }
    }
    if (bankStatus !== 'succeeded' && row.status === 'COMPLETED') {
      violations.push(`${row.kind} ${row.id}: COMPLETED but the bank says ${bankStatus}`);
      tally.created += 1;
    }
  }
  return { name: '5 the bank and the ledger agree on every on-ramp and payout (refunds included)', violations };
}

/** Background jobs on Schedules: a pass may be running at any moment. */
const scheduledWorkflowTypes = new Set(['reconcilerWorkflow', 'eventRetentionWorkflow', 'statementReconciliationWorkflow']);

async function workflowsSettled(context: CheckContext): Promise<CheckResult> {
  const violations: string[] = [];
  const terminated = new Set(context.terminations.map((termination) => `${termination.workflowId}/${termination.runId}`));
  const query = `TaskQueue = "${context.taskQueue}" AND ExecutionStatus != "Completed" AND ExecutionStatus != "ContinuedAsNew"`;
  for await (const execution of context.temporal.workflow.list({ query })) {
    const status = execution.status.name;
    if (status === 'TERMINATED' && terminated.has(`${execution.workflowId}/${execution.runId}`)) continue;
    if (status === 'RUNNING' && scheduledWorkflowTypes.has(execution.type)) continue;
    violations.push(`workflow ${execution.workflowId} (${execution.type}, run ${execution.runId}) is ${status}`);
  }
  return { name: "6 no workflow left running or failed (but the operator's terminations)", violations };
}

function subscriptionsExactlyOnce(clients: readonly DrillClient[], accepted: readonly AcceptedPayment[], byId: Map<string, Row>, refunded: ReadonlySet<string>, tally: Tally): CheckResult {
  const violations: string[] = [];
  const clientOf = new Map(clients.map((client) => [client.user.id, client]));
  for (const payment of accepted) {
    const row = byId.get(payment.id);
    if (!row) continue;
    const parties = [row.user_id, ...(row.counterparty_user_id ? [row.counterparty_user_id] : [])];
    for (const party of parties) {
      const seen = clientOf.get(party)?.finalEvents.get(payment.id) ?? [];
      // A recipient learns of a transfer only once money moved: of a failed one, nothing at all.
      if (party === row.counterparty_user_id && row.status !== 'COMPLETED') {
        if (seen.length > 0) violations.push(`${clientOf.get(party)?.user.name ?? party} received ${JSON.stringify(seen)} for the sender's ${payment.id} (${row.status})`);
        continue;
      }
      // Tell one event delivered twice (the same cursor) from a new event: a refund of an on-ramp that
      // ended without credit pushes an event of its own (README, "Late approvals"), its status unchanged.
      const cursors = clientOf.get(party)?.finalCursors.get(payment.id) ?? [];
      const distinct = new Set(cursors).size;
      const refundEvents = refunded.has(payment.id) && seen.length > 1 && distinct === seen.length && seen.every((status) => status === row.status);
      if ((seen.length !== 1 || seen[0] !== row.status) && !refundEvents) {
        const how = seen.length > 1 ? ` in ${distinct} distinct event(s)` : '';
        violations.push(`${clientOf.get(party)?.user.name ?? party} received ${JSON.stringify(seen)} for ${payment.id} (${row.status})${how}`);
        if (seen.length > distinct) tally.duplicated += 1;
      }
    }
  }
  return { name: '7 every subscriber received every final status of theirs once (a refund may announce it again)', violations };
}
