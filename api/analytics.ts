// Extension: the viewer's money in and out over a period, per day, week or month, by kind and by
// counterparty, and a monthly statement, computed in PostgreSQL from the ledger (the movements that
// changed the wallet's posted balance), never from the client's copy. Bounded in range, rows and time.
import { badInput } from '../common/errors';
import type { TransactionKind } from '../common/transactions';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';

/** The longest period one analytics query may cover. */
export const analyticsRangeDaysMax = 366;
export const analyticsCounterpartiesMax = 10;
export const analyticsTopPayeesMax = 5;
/** Lines of one monthly statement; a month with more says so (truncated) and its totals stay exact. */
export const statementEntriesMax = 5_000;
/** One analytics or statement query may take this long in PostgreSQL, then it is cancelled. */
export const analyticsStatementTimeoutMs = 5_000;

const dayMs = 86_400_000;
export type Granularity = 'DAY' | 'WEEK' | 'MONTH';
const truncUnit: Record<Granularity, string> = { DAY: 'day', WEEK: 'week', MONTH: 'month' };

const timeZoneRefused = () => badInput('timeZone must be an IANA time zone name, e.g. Asia/Kolkata', 'timeZone');

/** A time zone by its IANA name that the JavaScript runtime knows (PostgreSQL is asked too, below). */
export function validTimeZone(timeZone: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(timeZone)) throw timeZoneRefused();
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    throw timeZoneRefused();
  }
  return timeZone;
}

async function checkTimeZoneKnown(client: PoolClient, timeZone: string): Promise<void> {
  const { rowCount } = await client.query(`SELECT 1 FROM pg_timezone_names WHERE name = $1`, [timeZone]);
  if (!rowCount) throw timeZoneRefused();
}

export interface AnalyticsArgs {
  from: Date;
  to: Date;
  granularity: Granularity;
  timeZone: string;
}

export interface MoneyFlow {
  moneyIn: bigint;
  moneyOut: bigint;
  count: number;
}

export interface Analytics {
  from: Date;
  to: Date;
  granularity: Granularity;
  timeZone: string;
  totals: MoneyFlow;
  series: Array<MoneyFlow & { start: Date }>;
  byKind: Array<MoneyFlow & { kind: TransactionKind | null }>;
  byCounterparty: Array<MoneyFlow & { counterparty: string }>;
  topPayees: Array<{ name: string; phone: string; amount: bigint; count: number }>;
}

// The wallet's posted movements in [from, to): each ledger transfer that changed its posted balance,
// with the transaction it belongs to. Two index scans (credit side, debit side) rather than one OR.
const movementsSql = `
  WITH wallet AS (SELECT id FROM ledger_accounts WHERE user_id = $1 AND kind = 'wallet'),
  moves AS (
    SELECT lt.created_at AS at, lt.amount, true AS incoming, lt.transaction_id
    FROM ledger_transfers lt, wallet w
    WHERE lt.credit_account_id = w.id AND lt.kind IN ('posted', 'post_pending') AND lt.created_at >= $2 AND lt.created_at < $3
    UNION ALL
    SELECT lt.created_at, lt.amount, false, lt.transaction_id
    FROM ledger_transfers lt, wallet w
    WHERE lt.debit_account_id = w.id AND lt.kind IN ('posted', 'post_pending') AND lt.created_at >= $2 AND lt.created_at < $3
  ),
  detailed AS (
    SELECT m.at, m.amount, m.incoming, m.transaction_id, t.kind, t.note,
           CASE WHEN t.kind = 'TRANSFER' THEN (CASE WHEN t.user_id = $1 THEN t.counterparty_user_id ELSE t.user_id END) END AS other_user_id,
           t.bank
    FROM moves m LEFT JOIN transactions t ON t.id = m.transaction_id
  ),
  named AS (
    SELECT d.*, u.name AS other_name, u.phone AS other_phone,
           CASE WHEN d.kind = 'TRANSFER' THEN u.name || ' (' || u.phone || ')'
                WHEN d.kind IS NOT NULL THEN d.bank
                ELSE 'ZenPAY' END AS counterparty
    FROM detailed d LEFT JOIN users u ON u.id = d.other_user_id
  )`;

const flowColumns = `
  COALESCE(sum(amount) FILTER (WHERE incoming), 0)::bigint AS "moneyIn",
  COALESCE(sum(amount) FILTER (WHERE NOT incoming), 0)::bigint AS "moneyOut",
  count(*)::int AS count`;

function checkRange(from: Date, to: Date): void {
  if (!(to.getTime() > from.getTime())) throw badInput('to must be later than from', 'to');
  if (to.getTime() - from.getTime() > analyticsRangeDaysMax * dayMs) {
    throw badInput(`The period is at most ${analyticsRangeDaysMax} days`, 'to');
  }
}

async function bounded<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    // Read-only and time-bounded: a costly period cannot hold a connection for long.
    await client.query(`SET TRANSACTION READ ONLY`);
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(analyticsStatementTimeoutMs)]);
    return work(client);
  });
}

export async function viewerAnalytics(pool: Pool, userId: string, args: AnalyticsArgs): Promise<Analytics> {
  checkRange(args.from, args.to);
  const timeZone = validTimeZone(args.timeZone);
  const unit = truncUnit[args.granularity];
  const params = [userId, args.from, args.to];
  return bounded(pool, async (client) => {
    await checkTimeZoneKnown(client, timeZone);
    const totals = await client.query<MoneyFlow>(`${movementsSql} SELECT ${flowColumns} FROM named`, params);
    // Every bucket of the period, empty ones too, starting at local midnight (weeks on Mondays).
    const series = await client.query<MoneyFlow & { start: Date }>(
      `${movementsSql},
       buckets AS (
         SELECT generate_series(date_trunc('${unit}', $2::timestamptz AT TIME ZONE $4),
                                date_trunc('${unit}', ($3::timestamptz - interval '1 microsecond') AT TIME ZONE $4),
                                interval '1 ${unit}') AS local_start
       )
       SELECT (b.local_start AT TIME ZONE $4) AS start,
              COALESCE(sum(n.amount) FILTER (WHERE n.incoming), 0)::bigint AS "moneyIn",
              COALESCE(sum(n.amount) FILTER (WHERE NOT n.incoming), 0)::bigint AS "moneyOut",
              count(n.amount)::int AS count
       FROM buckets b LEFT JOIN named n ON date_trunc('${unit}', n.at AT TIME ZONE $4) = b.local_start
       GROUP BY b.local_start ORDER BY b.local_start`,
      [...params, timeZone],
    );
    const byKind = await client.query<MoneyFlow & { kind: TransactionKind | null }>(
      `${movementsSql} SELECT kind, ${flowColumns} FROM named GROUP BY kind ORDER BY kind NULLS LAST`,
      params,
    );
    const byCounterparty = await client.query<MoneyFlow & { counterparty: string }>(
      `${movementsSql} SELECT counterparty, ${flowColumns} FROM named GROUP BY counterparty
       ORDER BY sum(amount) DESC, counterparty LIMIT ${analyticsCounterpartiesMax}`,
      params,
    );
    const topPayees = await client.query<{ name: string; phone: string; amount: bigint; count: number }>(
      `${movementsSql} SELECT other_name AS name, other_phone AS phone, sum(amount)::bigint AS amount, count(*)::int AS count
       FROM named WHERE kind = 'TRANSFER' AND NOT incoming GROUP BY other_name, other_phone
       ORDER BY sum(amount) DESC, other_phone LIMIT ${analyticsTopPayeesMax}`,
      params,
    );
    return {
      from: args.from,
      to: args.to,
      granularity: args.granularity,
      timeZone,
      totals: totals.rows[0]!,
      series: series.rows,
      byKind: byKind.rows,
      byCounterparty: byCounterparty.rows,
      topPayees: topPayees.rows,
    };
  });
}

export interface StatementEntry {
  at: Date;
  transactionId: string | null;
  kind: TransactionKind | null;
  counterparty: string;
  note: string | null;
  moneyIn: bigint;
  moneyOut: bigint;
  balanceAfter: bigint;
}

export interface Statement {
  month: string;
  timeZone: string;
  from: Date;
  to: Date;
  openingBalance: bigint;
  closingBalance: bigint;
  moneyIn: bigint;
  moneyOut: bigint;
  entries: StatementEntry[];
  entriesTruncated: boolean;
}

/** A calendar month ("2026-11") in a time zone: its posted movements with the running balance. */
export async function viewerStatement(pool: Pool, userId: string, month: string, timeZoneName: string): Promise<Statement> {
  const matched = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!matched || Number(matched[1]) < 2000 || Number(matched[1]) > 2999) throw badInput('month is YYYY-MM, e.g. 2026-11', 'month');
  const timeZone = validTimeZone(timeZoneName);
  return bounded(pool, async (client) => {
    await checkTimeZoneKnown(client, timeZone);
    const { rows: [range] } = await client.query<{ from: Date; to: Date }>(
      `SELECT ($1::timestamp AT TIME ZONE $2) AS from, (($1::timestamp + interval '1 month') AT TIME ZONE $2) AS to`,
      [`${month}-01 00:00:00`, timeZone],
    );
    const { from, to } = range!;
    // The posted balance before the month: every earlier posted movement of the wallet.
    const { rows: [opening] } = await client.query<{ balance: bigint }>(
      `WITH wallet AS (SELECT id FROM ledger_accounts WHERE user_id = $1 AND kind = 'wallet')
       SELECT (COALESCE((SELECT sum(amount) FROM ledger_transfers lt, wallet w WHERE lt.credit_account_id = w.id AND lt.kind IN ('posted', 'post_pending') AND lt.created_at < $2), 0)
             - COALESCE((SELECT sum(amount) FROM ledger_transfers lt, wallet w WHERE lt.debit_account_id = w.id AND lt.kind IN ('posted', 'post_pending') AND lt.created_at < $2), 0))::bigint AS balance`,
      [userId, from],
    );
    const { rows: [totals] } = await client.query<MoneyFlow>(`${movementsSql} SELECT ${flowColumns} FROM named`, [userId, from, to]);
    const { rows } = await client.query<StatementEntry>(
      `${movementsSql}
       SELECT at, transaction_id AS "transactionId", kind, counterparty, note,
              CASE WHEN incoming THEN amount ELSE 0 END::bigint AS "moneyIn",
              CASE WHEN incoming THEN 0 ELSE amount END::bigint AS "moneyOut",
              ($4::bigint + sum(CASE WHEN incoming THEN amount ELSE -amount END) OVER (ORDER BY at, transaction_id, incoming))::bigint AS "balanceAfter"
       FROM named ORDER BY at, transaction_id, incoming LIMIT ${statementEntriesMax + 1}`,
      [userId, from, to, opening!.balance],
    );
    const openingBalance = opening!.balance;
    return {
      month,
      timeZone,
      from,
      to,
      openingBalance,
      closingBalance: openingBalance + totals!.moneyIn - totals!.moneyOut,
      moneyIn: totals!.moneyIn,
      moneyOut: totals!.moneyOut,
      entries: rows.slice(0, statementEntriesMax),
      entriesTruncated: rows.length > statementEntriesMax,
    };
  });
}
