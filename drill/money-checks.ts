// The drill's money-safety invariants (issue 10), checked once quiet: every payment the bank took is
// credited or refunded exactly once; nothing is left unfinished or held after the reconciler ran; no forged
// word moved money, and the engine reported the claims the bank denied.
import { parseBankOutcome } from '../common/bank';
import type { TransactionKind } from '../common/transactions';
import { ledgerTransferId } from '../db/ledger';
import type { Pool } from '../db/pool';
import { bankObjectByReference, bankRequest, bankStatement, refundsOfPayment, type BankObject, type BankRefund } from './bank';
import type { CheckResult, Row, Tally } from './checks';
import type { ForgedWord } from './forgery';
import { signalsOf, type SignalSeen } from './histories';
import { describeQuiet, quietState, type QuietContext } from './quiet';

export interface MoneyCheckContext extends QuietContext {
  forged: readonly ForgedWord[];
  /** The statement is asked from here (before anything of the run was decided) to now. */
  statementFrom: Date;
}

type Movements = Map<string, Array<{ id: string; kind: string; amount: bigint }>>;
interface RefundRow {
  transaction_id: string;
  bank_payment_id: string;
  status: string;
  amount: bigint;
}

/** The bank's side of an on-ramp: its payment and that payment's refunds (all statuses). */
interface PaymentAtBank {
  payment: BankObject | null;
  refunds: BankRefund[];
}

/** Malformed signals an engine run reports at most (bank-outcome.ts). */
const malformedReportedPerRunMax = 20;

const creditsOf = (row: Row, movementsOf: Movements) =>
  (movementsOf.get(row.id) ?? []).filter((movement) => movement.id === ledgerTransferId(row.id, 'credit') && movement.kind === 'posted');

function refundedInFull(amount: string, atBank: BankRefund[], recorded: RefundRow | undefined): boolean {
  const succeeded = atBank.filter((refund) => refund.status === 'succeeded');
  return succeeded.length === 1 && succeeded[0]!.amount === amount && recorded?.status === 'succeeded' && recorded.amount === BigInt(amount);
}

async function paymentsAtBank(context: MoneyCheckContext, rows: readonly Row[]): Promise<Map<string, PaymentAtBank>> {
  const found = new Map<string, PaymentAtBank>();
  for (const row of rows.filter((candidate) => candidate.kind === 'ON_RAMP')) {
    const payment = await bankObjectByReference(context.bankUrl, 'payments', row.id);
    found.set(row.id, { payment, refunds: payment ? await refundsOfPayment(context.bankUrl, payment.id) : [] });
  }
  return found;
}

async function refundRows(pool: Pool): Promise<Map<string, RefundRow>> {
  const { rows } = await pool.query<RefundRow>(`SELECT transaction_id, bank_payment_id, status, amount FROM bank_refunds`);
  return new Map(rows.map((row) => [row.transaction_id, row]));
}

/** (a) Every payment the bank reports succeeded is credited (COMPLETED, one credit) or refunded in full, exactly once. */
async function paymentsCreditedOrRefunded(
  context: MoneyCheckContext,
  byId: Map<string, Row>,
  movementsOf: Movements,
  atBank: Map<string, PaymentAtBank>,
  refunds: Map<string, RefundRow>,
  tally: Tally,
): Promise<CheckResult> {
  const violations: string[] = [];
  const statement = await bankStatement(context.bankUrl, context.statementFrom, new Date(Date.now() + 60_000));
  const succeeded = new Map(statement.payments.map((payment) => [payment.id, payment]));
  const refundsInStatement = new Set(statement.refunds.map((refund) => refund.id));
  // The statement and the per-reference look-ups must tell the same story.
  for (const [transactionId, { payment, refunds: paymentRefunds }] of atBank) {
    if (payment?.status === 'succeeded' && !succeeded.has(payment.id)) {
      violations.push(`payment ${payment.id} of ${transactionId} succeeded by its reference, missing from the statement`);
      succeeded.set(payment.id, payment);
    }
    for (const refund of paymentRefunds.filter((candidate) => candidate.status === 'succeeded' && !refundsInStatement.has(candidate.id))) {
      violations.push(`refund ${refund.id} of ${transactionId} succeeded, missing from the statement`);
    }
  }
  let credited = 0;
  let refunded = 0;
  let handedToOperator = 0;
  const flaggedRefunds = await refundsFlaggedForOperator(context.pool);
  for (const payment of succeeded.values()) {
    const row = byId.get(payment.reference);
    if (!row || row.kind !== 'ON_RAMP') {
      violations.push(`payment ${payment.id} (reference ${payment.reference}, ${payment.amount}) succeeded for no on-ramp`);
      tally.lost += 1;
      continue;
    }
    const credits = creditsOf(row, movementsOf);
    const isCredited = row.status === 'COMPLETED' && credits.length === 1;
    const paymentRefunds = atBank.get(row.id)?.refunds ?? [];
    const succeededRefunds = paymentRefunds.filter((refund) => refund.status === 'succeeded');
    const isRefunded = refundedInFull(payment.amount, paymentRefunds, refunds.get(row.id));
    const evidence = `${row.status}${row.failure_code ? ` ${row.failure_code}` : ''}, ${credits.length} credit(s), bank refunds ${JSON.stringify(paymentRefunds.map((refund) => [refund.amount, refund.status]))}, bank_refunds ${JSON.stringify(refunds.get(row.id)?.status ?? null)}`;
    if (isCredited) credited++;
    if (isRefunded) refunded++;
    if (credits.length > 1) {
      violations.push(`on-ramp ${row.id}: payment ${payment.id} credited ${credits.length} times (${evidence})`);
      tally.duplicated += 1;
    } else if (isCredited && succeededRefunds.length > 0) {
      violations.push(`on-ramp ${row.id}: payment ${payment.id} both credited and refunded (${evidence})`);
      tally.created += 1;
    } else if (!isCredited && !isRefunded && paymentRefunds.length > 0 && paymentRefunds.every((refund) => refund.status === 'failed') && flaggedRefunds.has(row.id)) {
      handedToOperator++;
    } else if (!isCredited && !isRefunded) {
      const declined = paymentRefunds.length > 0 && paymentRefunds.every((refund) => refund.status === 'failed') ? ' (the bank declined the refund, and it was not asked again)' : '';
      violations.push(`on-ramp ${row.id}: payment ${payment.id} of ${payment.amount} succeeded at ${payment.decidedAt}, neither credited nor refunded in full once${declined} (${evidence}; ${await webhookEvidence(context, row)})`);
      if (succeededRefunds.length > 1) tally.duplicated += 1;
      else tally.lost += 1;
    }
  }
  for (const [transactionId, recorded] of refunds) {
    const bankRefunds = atBank.get(transactionId)?.refunds ?? [];
    const bankSays = bankRefunds.find((refund) => refund.status === 'succeeded') ? 'succeeded' : bankRefunds.length > 0 ? bankRefunds.at(-1)!.status : 'none';
    if ((recorded.status === 'succeeded') !== (bankSays === 'succeeded')) {
      violations.push(`bank_refunds says ${recorded.status} for ${transactionId}, the bank says ${bankSays}`);
    }
  }
  return { name: `8 every payment the bank took is credited or refunded exactly once (${credited} credited, ${refunded} refunded, ${handedToOperator} refund declined by the bank and flagged for an operator)`, violations };
}

/** What became of the bank's webhooks about a transaction (its refund's too), what the API recorded, and what the engine flagged. */
async function webhookEvidence(context: MoneyCheckContext, row: Row): Promise<string> {
  const deliveries: string[] = [];
  for (const reference of [row.id, `refund-${row.id}`]) {
    const answer = await bankRequest(context.bankUrl, 'GET', `/v1/_deliveries?reference=${encodeURIComponent(reference)}&limit=20`);
    for (const delivery of (answer.body?.deliveries ?? []) as Array<{ type: string; state: string; copy: number }>) deliveries.push(`${delivery.type}#${delivery.copy} ${delivery.state}`);
  }
  const { rows: received } = await context.pool.query<{ event_type: string; effect: string | null; received_at: Date }>(
    `SELECT event_type, effect, received_at FROM bank_webhooks WHERE reference IN ($1, 'refund-' || $1) ORDER BY received_at`,
    [row.id],
  );
  const { rows: flagged } = await context.pool.query<{ kind: string }>(`SELECT kind FROM security_events WHERE subject = $1 AND outcome = 'flagged'`, [row.id]);
  const { rows: ended } = await context.pool.query<{ updated_at: Date }>(`SELECT updated_at FROM transactions WHERE id = $1`, [row.id]);
  return (
    `the bank's webhooks ${JSON.stringify(deliveries)}, the API received ${JSON.stringify(received.map((webhook) => `${webhook.event_type} ${webhook.effect} at ${webhook.received_at.toISOString()}`))}, ` +
    `flagged ${JSON.stringify(flagged.map((event) => event.kind))}, the on-ramp last changed at ${ended[0]?.updated_at.toISOString()}`
  );
}

/** (b) Once the reconciler has run, nothing is left non-final, held, undecided or running. */
async function nothingLeftOpen(context: MoneyCheckContext): Promise<CheckResult> {
  const state = await quietState(context);
  const violations = [
    ...state.unfinished.map((item) => `transaction ${item} is not final`),
    ...state.openHolds.map((id) => `transaction ${id} still holds money`),
    ...state.refundsUndecided.map((item) => `refund of ${item} is not decided`),
    ...state.runningWorkflows.map((id) => `workflow ${id} is still running`),
    ...(state.pendingDeliveries > 0 ? [`${state.pendingDeliveries} bank webhooks still being delivered`] : []),
  ];
  return { name: `9 nothing left non-final, held or running once the reconciler has run (${describeQuiet(state)})`, violations };
}

/** A refund the bank declines is not asked again: the engine flags it for an operator (README, "Money safety"). */
async function refundsFlaggedForOperator(pool: MoneyCheckContext['pool']): Promise<Set<string>> {
  const { rows } = await pool.query<{ subject: string }>(`SELECT DISTINCT subject FROM security_events WHERE kind = 'reconcile.refund_failed'`);
  return new Set(rows.map((row) => row.subject));
}

/** What the bank decided for a transaction, and how the transaction should then have ended. */
function bankDecision(row: Row, atBank: Map<string, PaymentAtBank>, refunds: Map<string, RefundRow>, payout: BankObject | null, flaggedRefunds: ReadonlySet<string>): { completed: boolean; says: string } {
  if (row.kind === 'ON_RAMP') {
    const { payment, refunds: paymentRefunds } = atBank.get(row.id) ?? { payment: null, refunds: [] };
    const refundedBack = payment !== null && refundedInFull(payment.amount, paymentRefunds, refunds.get(row.id));
    // Taken by the bank after the on-ramp ended, its refund declined and flagged for an operator (invariant 8
    // counts it apart): the engine rightly credited nothing.
    const refundDeclined = payment?.status === 'succeeded' && !refundedBack && row.status !== 'COMPLETED' && paymentRefunds.length > 0 &&
      paymentRefunds.every((refund) => refund.status === 'failed') && flaggedRefunds.has(row.id);
    return {
      completed: payment?.status === 'succeeded' && !refundedBack && !refundDeclined,
      says: `payment ${payment?.status ?? 'none'}${refundedBack ? ', refunded' : ''}${refundDeclined ? ', its refund declined and flagged for an operator' : ''}`,
    };
  }
  return { completed: payout?.status === 'succeeded', says: `payout ${payout?.status ?? 'none'}` };
}

/** The claim of a well-formed forged word, weighed as the engine weighs it (bank-outcome.ts deniedClaims). */
function denies(word: ForgedWord, row: Row, bankObjectId: string | null, lookedStatus: string): boolean {
  // A bank that could not be asked neither confirms nor denies (workflows/bank-outcome.ts): nothing to record.
  if (lookedStatus === 'unavailable') return false;
  const claim = word.claim!;
  const names = claim.reference === row.id && claim.bankObjectId === bankObjectId && claim.amount === String(row.amount);
  return !(names && lookedStatus === claim.status);
}

/** (c) Every transaction a forged word targeted ended as the bank decided; the claims the bank denied were recorded. */
async function forgeriesMovedNothing(context: MoneyCheckContext, byId: Map<string, Row>, movementsOf: Movements, atBank: Map<string, PaymentAtBank>, refunds: Map<string, RefundRow>): Promise<CheckResult> {
  const violations: string[] = [];
  const counts = { delivered: 0, looked: 0, denied: 0, malformedTaken: 0 };
  const flaggedRefunds = await refundsFlaggedForOperator(context.pool);
  const targets = [...new Set(context.forged.map((word) => word.transactionId))];
  for (const transactionId of targets) {
    const words = context.forged.filter((word) => word.transactionId === transactionId);
    const row = byId.get(transactionId);
    if (!row) {
      violations.push(`forged target ${transactionId} is not in the database`);
      continue;
    }
    const payout = row.kind === 'OFF_RAMP' ? await bankObjectByReference(context.bankUrl, 'payouts', row.id) : null;
    const decision = bankDecision(row, atBank, refunds, payout, flaggedRefunds);
    const moved = (movementsOf.get(row.id) ?? []).filter((movement) => movement.kind === 'posted' || movement.kind === 'post_pending').length;
    const label = `${words.map((word) => `${word.channel} ${word.variant}`).join(', ')} on ${row.kind} ${row.id}`;
    if ((row.status === 'COMPLETED') !== decision.completed || moved !== (decision.completed ? 1 : 0)) {
      // Money moved that the bank did not move is the forgery's doing; the other way round, the engine lost a true word.
      const which = moved > (decision.completed ? 1 : 0) ? 'MONEY MOVED ON A FORGED WORD' : 'the bank\'s true word was not acted on (see 8)';
      violations.push(`${label}: ended ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''} with ${moved} money movement(s); the bank says ${decision.says}: ${which}`);
    }
    const delivered = words.filter((word) => word.delivered);
    counts.delivered += delivered.length;
    if (delivered.length === 0) continue;
    const seen = await signalsOf(context.temporal, row.kind as TransactionKind, row.id);
    const { rows: events } = await context.pool.query<{ kind: string; webhook_id: string | null }>(
      `SELECT kind, details->>'webhookId' AS webhook_id FROM security_events WHERE subject = $1 AND kind IN ('bank.claim_denied', 'bank.signal_malformed')`,
      [row.id],
    );
    const bankObjectId = row.kind === 'ON_RAMP' ? atBank.get(row.id)?.payment?.id ?? null : payout?.id ?? null;
    for (const word of delivered.filter((candidate) => candidate.claim)) {
      const signal = seen.find((candidate) => (candidate.payload as { webhookId?: unknown } | null)?.webhookId === word.webhookId);
      if (!signal) {
        violations.push(`${word.channel} ${word.variant} ${word.webhookId} on ${row.id} was delivered (${word.answer}) but no workflow of it received the signal`);
        continue;
      }
      if (signal.lookedStatus === null) continue;
      counts.looked++;
      if (!denies(word, row, bankObjectId, signal.lookedStatus)) continue;
      counts.denied++;
      const recorded = events.some((event) => event.kind === 'bank.claim_denied' && event.webhook_id === word.webhookId!.slice(0, 120));
      if (!recorded && !signal.runTerminated) {
        violations.push(`${word.channel} ${word.variant} ${word.webhookId} on ${row.id}: the bank said ${signal.lookedStatus} at the look that took it, but no bank.claim_denied was recorded`);
      }
    }
    const malformedTaken = countMalformedTaken(seen);
    counts.malformedTaken += malformedTaken;
    const malformedRecorded = events.filter((event) => event.kind === 'bank.signal_malformed').length;
    if (malformedRecorded < malformedTaken) {
      violations.push(`${row.id}: ${malformedTaken} malformed signals were taken by a look at the bank, ${malformedRecorded} bank.signal_malformed recorded`);
    }
  }
  const name = `10 no forged word moved money; denied claims recorded (${targets.length} targets, ${counts.delivered} delivered, ${counts.looked} looked at, ${counts.denied} denied, ${counts.malformedTaken} malformed taken)`;
  return { name, violations };
}

/** Malformed signals taken by a look in runs that were not terminated (those may not have written theirs). */
function countMalformedTaken(seen: readonly SignalSeen[]): number {
  const perRun = new Map<string, number>();
  for (const signal of seen) {
    if (signal.lookedStatus === null || signal.runTerminated || parseBankOutcome(signal.payload) !== null) continue;
    perRun.set(signal.runId, Math.min((perRun.get(signal.runId) ?? 0) + 1, malformedReportedPerRunMax));
  }
  return [...perRun.values()].reduce((sum, count) => sum + count, 0);
}

export async function runMoneyChecks(context: MoneyCheckContext, rows: readonly Row[], byId: Map<string, Row>, movementsOf: Movements, tally: Tally): Promise<CheckResult[]> {
  const atBank = await paymentsAtBank(context, rows);
  const refunds = await refundRows(context.pool);
  return [
    await paymentsCreditedOrRefunded(context, byId, movementsOf, atBank, refunds, tally),
    await nothingLeftOpen(context),
    await forgeriesMovedNothing(context, byId, movementsOf, atBank, refunds),
  ];
}
