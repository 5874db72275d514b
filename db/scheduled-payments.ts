// Scheduled payments and their runs: reads, and the SECURITY DEFINER functions that write them
// (db/migrations/1764806400000_scheduled-payments.sql).
import type { ScheduleCadence, ScheduledPaymentStatus, Weekday } from '../common/scheduled-payments';
import type { Queryable } from './pool';

export interface ScheduledPaymentRow {
  id: string;
  userId: string;
  payeeUserId: string;
  amount: bigint;
  note: string | null;
  cadence: ScheduleCadence;
  runAt: Date | null;
  dayOfMonth: number | null;
  dayOfWeek: Weekday | null;
  timeOfDay: string | null;
  everySeconds: number | null;
  timeZone: string;
  status: ScheduledPaymentStatus;
  idempotencyKey: string;
  requestFingerprint: Buffer;
  confirmMethod: 'TOTP' | 'SMS' | null;
  confirmAttempts: number;
  confirmAttemptsMax: number | null;
  confirmExpiresAt: Date | null;
  version: bigint;
  syncedVersion: bigint;
  createdAt: Date;
  updatedAt: Date;
}

const columns = `id, user_id AS "userId", payee_user_id AS "payeeUserId", amount, note, cadence, run_at AS "runAt",
  day_of_month AS "dayOfMonth", day_of_week AS "dayOfWeek", time_of_day AS "timeOfDay", every_seconds AS "everySeconds",
  time_zone AS "timeZone", status, idempotency_key AS "idempotencyKey", request_fingerprint AS "requestFingerprint",
  confirm_method AS "confirmMethod", confirm_attempts AS "confirmAttempts", confirm_attempts_max AS "confirmAttemptsMax",
  confirm_expires_at AS "confirmExpiresAt", version, synced_version AS "syncedVersion", created_at AS "createdAt",
  updated_at AS "updatedAt"`;

export interface NewScheduledPayment
  extends Pick<
    ScheduledPaymentRow,
    | 'id' | 'userId' | 'payeeUserId' | 'amount' | 'note' | 'cadence' | 'runAt' | 'dayOfMonth' | 'dayOfWeek'
    | 'timeOfDay' | 'everySeconds' | 'timeZone' | 'idempotencyKey' | 'requestFingerprint'
  > {
  confirmation: { method: 'TOTP' | 'SMS'; codeHash: Buffer | null; withinSeconds: number; attemptsMax: number } | null;
  liveMax: number;
}

/** SQLSTATE of zp_create_scheduled_payment when the user has as many live schedules as allowed. */
export const scheduledPaymentsMaxState = 'ZP002';

/** Records a scheduled payment, or finds the one its user made earlier with this key (created: false). */
export async function createScheduledPayment(db: Queryable, input: NewScheduledPayment): Promise<{ row: ScheduledPaymentRow; created: boolean }> {
  const { rows } = await db.query<ScheduledPaymentRow>(
    `SELECT ${columns} FROM zp_create_scheduled_payment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
    [
      input.id, input.userId, input.payeeUserId, String(input.amount), input.note, input.cadence, input.runAt,
      input.dayOfMonth, input.dayOfWeek, input.timeOfDay, input.everySeconds, input.timeZone, input.idempotencyKey,
      input.requestFingerprint, input.confirmation?.method ?? null, input.confirmation?.codeHash ?? null,
      input.confirmation?.withinSeconds ?? null, input.confirmation?.attemptsMax ?? null, input.liveMax,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error('zp_create_scheduled_payment returned no row');
  return { row, created: row.id === input.id };
}

export async function findScheduledPayment(db: Queryable, id: string): Promise<ScheduledPaymentRow | null> {
  const { rows } = await db.query<ScheduledPaymentRow>(`SELECT ${columns} FROM scheduled_payments WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The user's scheduled payments not deleted, newest first. */
export async function listScheduledPayments(db: Queryable, userId: string, first: number): Promise<ScheduledPaymentRow[]> {
  const { rows } = await db.query<ScheduledPaymentRow>(
    `SELECT ${columns} FROM scheduled_payments WHERE user_id = $1 AND status <> 'DELETED' ORDER BY created_at DESC, id DESC LIMIT $2`,
    [userId, first],
  );
  return rows;
}

/** pause, resume or delete; null when no such scheduled payment of this user exists (or it was deleted). */
export async function changeScheduledPayment(db: Queryable, id: string, userId: string, action: 'pause' | 'resume' | 'delete'): Promise<ScheduledPaymentRow | null> {
  const { rows } = await db.query<ScheduledPaymentRow>(`SELECT ${columns} FROM zp_change_scheduled_payment($1, $2, $3)`, [id, userId, action]);
  return rows[0] ?? null;
}

export type ConfirmResult = 'confirmed' | 'wrong' | 'failed' | 'expired' | 'not_awaiting' | 'not_found';

export async function confirmScheduledPayment(db: Queryable, id: string, userId: string, verified: boolean, codeHash: Buffer | null): Promise<ConfirmResult> {
  const { rows } = await db.query<{ result: ConfirmResult }>(`SELECT zp_confirm_scheduled_payment($1, $2, $3, $4) AS result`, [id, userId, verified, codeHash]);
  return rows[0]!.result;
}

export interface ScheduledRunRow {
  scheduledPaymentId: string;
  scheduledAt: Date;
  transactionId: string | null;
  refusalCode: string | null;
  createdAt: Date;
}

const runColumns = `scheduled_payment_id AS "scheduledPaymentId", scheduled_at AS "scheduledAt", transaction_id AS "transactionId",
  refusal_code AS "refusalCode", created_at AS "createdAt"`;

/** Records a run of one action time, or returns the one recorded first. */
export async function recordScheduledRun(db: Queryable, id: string, scheduledAt: string, transactionId: string | null, refusalCode: string | null): Promise<ScheduledRunRow> {
  const { rows } = await db.query<ScheduledRunRow>(`SELECT ${runColumns} FROM zp_record_scheduled_run($1, $2, $3, $4)`, [id, scheduledAt, transactionId, refusalCode]);
  return rows[0]!;
}

export async function findScheduledRun(db: Queryable, id: string, scheduledAt: string): Promise<ScheduledRunRow | null> {
  const { rows } = await db.query<ScheduledRunRow>(`SELECT ${runColumns} FROM scheduled_payment_runs WHERE scheduled_payment_id = $1 AND scheduled_at = $2`, [id, scheduledAt]);
  return rows[0] ?? null;
}

/** The latest runs of each of the given scheduled payments, newest first, at most `perPayment` each. */
export async function latestRuns(db: Queryable, ids: readonly string[], perPayment: number): Promise<Map<string, ScheduledRunRow[]>> {
  const { rows } = await db.query<ScheduledRunRow>(
    `SELECT ${runColumns} FROM unnest($1::uuid[]) AS ids(id)
     CROSS JOIN LATERAL (SELECT * FROM scheduled_payment_runs r WHERE r.scheduled_payment_id = ids.id
       ORDER BY r.scheduled_at DESC LIMIT $2) AS latest`,
    [[...new Set(ids)], perPayment],
  );
  const byId = new Map<string, ScheduledRunRow[]>(ids.map((id) => [id, []]));
  for (const row of rows) byId.get(row.scheduledPaymentId)?.push(row);
  return byId;
}

export async function noteScheduleSynced(db: Queryable, id: string, version: bigint): Promise<void> {
  await db.query(`SELECT zp_note_scheduled_payment_synced($1, $2)`, [id, String(version)]);
}
