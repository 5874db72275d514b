// The daily statement reconciliation (run by statementReconciliationWorkflow on a Temporal Schedule):
// the bank's statement of succeeded payments, payouts and refunds for a period against the ledger, in
// both directions. Every mismatch is reported (a row in statement_reconciliations, and a flagged
// security event for operators); nothing is changed here: the reconciler and operators act on it.
import type { BankClient, StatementItem } from './bank-client';
import { refundReference } from './bank-payments';
import type { Pool } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';

export interface StatementDependencies {
  pool: Pool;
  bank: BankClient;
}

export interface Mismatch {
  kind: 'payment_not_credited' | 'payout_not_posted' | 'refund_not_recorded' | 'credited_without_payment' | 'posted_without_payout' | 'unknown_reference';
  reference: string;
  bankObjectId: string | null;
  amount: string;
  detail: string;
}

export interface StatementReport {
  id: string;
  payments: number;
  payouts: number;
  refunds: number;
  mismatches: Mismatch[];
}

/** Mismatches kept in one report's row and flagged one by one; past this only counted. */
const mismatchesReportedMax = 1_000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface LedgerSide {
  id: string;
  kind: string;
  status: string;
  amount: bigint;
  credited: boolean;
  posted: boolean;
  refund_status: string | null;
}

async function ledgerSide(pool: Pool, references: string[]): Promise<Map<string, LedgerSide>> {
  const ids = references.filter((reference) => uuidPattern.test(reference));
  const { rows } = await pool.query<LedgerSide>(
    `SELECT t.id, t.kind, t.status, t.amount,
            EXISTS (SELECT 1 FROM ledger_transfers l WHERE l.id = zp_ledger_transfer_id(t.id, 'credit')) AS credited,
            EXISTS (SELECT 1 FROM ledger_transfers l WHERE l.id = zp_ledger_transfer_id(t.id, 'post')) AS posted,
            r.status AS refund_status
     FROM transactions t LEFT JOIN bank_refunds r ON r.transaction_id = t.id WHERE t.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** What the bank says happened, checked against the ledger. */
function bankSideMismatches(statement: { payments: StatementItem[]; payouts: StatementItem[]; refunds: StatementItem[] }, ledger: Map<string, LedgerSide>): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const of = (kind: Mismatch['kind'], item: StatementItem, detail: string): Mismatch => ({ kind, reference: item.reference, bankObjectId: item.id, amount: item.amount, detail });
  for (const item of statement.payments) {
    const row = ledger.get(item.reference);
    if (!row || row.kind !== 'ON_RAMP') mismatches.push(of('unknown_reference', item, 'a payment the bank took for no on-ramp of ours'));
    else if (String(row.amount) !== item.amount) mismatches.push(of('payment_not_credited', item, `amount ${item.amount} is not the on-ramp's ${row.amount}`));
    else if (!row.credited && row.refund_status !== 'succeeded') mismatches.push(of('payment_not_credited', item, `on-ramp ${row.status}, not credited and not refunded (refund: ${row.refund_status ?? 'none'})`));
  }
  for (const item of statement.payouts) {
    const row = ledger.get(item.reference);
    if (!row || row.kind !== 'OFF_RAMP') mismatches.push(of('unknown_reference', item, 'a payout the bank made for no off-ramp of ours'));
    else if (!row.posted) mismatches.push(of('payout_not_posted', item, `off-ramp ${row.status}: the bank paid out but the hold was not posted`));
  }
  for (const item of statement.refunds) {
    const row = ledger.get(item.reference.replace(/^refund-/, ''));
    if (!row || refundReference(row.id) !== item.reference) mismatches.push(of('unknown_reference', item, 'a refund of ours the ledger does not know'));
    else if (row.refund_status !== 'succeeded') mismatches.push(of('refund_not_recorded', item, `refund recorded as ${row.refund_status ?? 'none'}`));
  }
  return mismatches;
}

/** What the ledger says moved in the period, checked against the bank's statement. */
async function ledgerSideMismatches(pool: Pool, from: Date, to: Date, statement: { payments: StatementItem[]; payouts: StatementItem[] }, bank: BankClient): Promise<Mismatch[]> {
  const { rows } = await pool.query<{ transaction_id: string; kind: string; amount: bigint; leg: string }>(
    `SELECT t.id AS transaction_id, t.kind, t.amount, CASE WHEN l.id = zp_ledger_transfer_id(t.id, 'credit') THEN 'credit' ELSE 'post' END AS leg
     FROM ledger_transfers l JOIN transactions t ON t.id = l.transaction_id
     WHERE l.created_at >= $1 AND l.created_at < $2 AND t.kind IN ('ON_RAMP', 'OFF_RAMP')
       AND l.id IN (zp_ledger_transfer_id(t.id, 'credit'), zp_ledger_transfer_id(t.id, 'post'))`,
    [from, to],
  );
  const inStatement = new Set([...statement.payments, ...statement.payouts].map((item) => item.reference));
  const mismatches: Mismatch[] = [];
  for (const row of rows) {
    if (inStatement.has(row.transaction_id)) continue;
    // Decided at the bank just before the period (the credit came a moment later): ask the bank itself.
    const lookUp = { id: null, reference: row.transaction_id };
    const object = row.kind === 'ON_RAMP' ? await bank.findPayment(lookUp) : await bank.findPayout(lookUp);
    if (object?.status === 'succeeded' && object.amount === String(row.amount)) continue;
    mismatches.push({
      kind: row.kind === 'ON_RAMP' ? 'credited_without_payment' : 'posted_without_payout',
      reference: row.transaction_id,
      bankObjectId: object?.id ?? null,
      amount: String(row.amount),
      detail: `the ledger moved money the bank reports as ${object?.status ?? 'unknown'}`,
    });
  }
  return mismatches;
}

export function createStatementActivities(deps: StatementDependencies) {
  return {
    /** Compares the bank's statement for [from, to) with the ledger; records and returns the report. */
    async reconcileStatement({ from, to }: { from: string; to: string }): Promise<StatementReport> {
      const [fromDate, toDate] = [new Date(from), new Date(to)];
      const statement = await deps.bank.statement(fromDate, toDate);
      const references = [...statement.payments, ...statement.payouts].map((item) => item.reference);
      references.push(...statement.refunds.map((item) => item.reference.replace(/^refund-/, '')));
      const ledger = await ledgerSide(deps.pool, references);
      const mismatches = [...bankSideMismatches(statement, ledger), ...(await ledgerSideMismatches(deps.pool, fromDate, toDate, statement, deps.bank))];
      const reported = mismatches.slice(0, mismatchesReportedMax);
      const { rows } = await deps.pool.query<{ id: bigint }>(
        `INSERT INTO statement_reconciliations (period_from, period_to, payments, payouts, refunds, mismatches, mismatch_count)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id`,
        [fromDate, toDate, statement.payments.length, statement.payouts.length, statement.refunds.length, JSON.stringify(reported), mismatches.length],
      );
      for (const mismatch of reported) {
        await recordSecurityEvent(deps.pool, { kind: `statement.${mismatch.kind}`, outcome: 'flagged', actor: 'system', subject: mismatch.reference, details: { ...mismatch } });
      }
      return { id: String(rows[0]!.id), payments: statement.payments.length, payouts: statement.payouts.length, refunds: statement.refunds.length, mismatches: reported };
    },
  };
}
