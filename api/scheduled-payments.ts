// Scheduled and recurring payments, the API's side: validate (zod), record the row (the source of truth
// for ownership and state), then let the sync workflow make the Temporal Schedule match it. Step-up is
// given at scheduling time: a schedule above the threshold or to a new payee waits for its user's second
// factor, and its runs are then pre-authorised for exactly that payee and amount.
import { ScheduleNotFoundError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { createHash, createHmac, randomInt } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { AppError, badInput } from '../common/errors';
import { parsePhone } from '../common/phone';
import {
  scheduleSyncWorkflowIdFor,
  scheduleTimeZone,
  temporalScheduleIdFor,
  weekdays,
  type ScheduleCadence,
  type Weekday,
} from '../common/scheduled-payments';
import { searchAttributes } from '../common/transactions';
import { recordSecurityEvent } from '../db/security-events';
import * as db from '../db/scheduled-payments';
import type { ScheduledPaymentRow } from '../db/scheduled-payments';
import { findUserByPhone, type User } from './auth';
import { describeAmount, noteLengthMax, validateIdempotencyKey, type PaymentDependencies } from './payments';
import { stepUpReason } from './step-up';

/** Scheduled payments a user may have not ended (awaiting confirmation, active or paused). */
export const scheduledPaymentsLiveMax = 50;
export const scheduledPaymentsPageMax = 100;
/** A ONCE payment is at most this far ahead. */
const onceAheadDaysMax = 366;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ScheduledPaymentDependencies = Pick<PaymentDependencies, 'pool' | 'temporal' | 'taskQueue' | 'confirmations' | 'mutationWaitMs'> & {
  /** EVERY_SECONDS (a test cadence) is refused in production. */
  nodeEnv: string;
};

const timeOfDay = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'timeOfDay is HH:MM, 00:00 to 23:59 (Asia/Kolkata)');
const cadenceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ONCE'), at: z.date() }).strict(),
  z.object({ kind: z.literal('MONTHLY'), dayOfMonth: z.number().int().min(1, 'dayOfMonth is 1 to 28').max(28, 'dayOfMonth is 1 to 28'), timeOfDay }).strict(),
  z.object({ kind: z.literal('WEEKLY'), dayOfWeek: z.enum(weekdays), timeOfDay }).strict(),
  z.object({ kind: z.literal('EVERY_SECONDS'), everySeconds: z.number().int().min(2).max(86_400) }).strict(),
]);
type Cadence = z.infer<typeof cadenceSchema>;

export interface ScheduleCadenceInput {
  kind: ScheduleCadence;
  at?: Date | null;
  dayOfMonth?: number | null;
  dayOfWeek?: Weekday | null;
  timeOfDay?: string | null;
  everySeconds?: number | null;
}

/** The cadence as one of its four shapes (fields of the others must be absent), or BAD_USER_INPUT. */
export function parseCadence(input: ScheduleCadenceInput, nodeEnv: string, now = new Date()): Cadence {
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null && value !== undefined));
  const parsed = cadenceSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? `cadence.${issue.path.join('.')}` : 'cadence';
    throw badInput(issue.code === 'unrecognized_keys' ? `${issue.keys.join(', ')} do not belong to a ${input.kind} cadence` : `${field}: ${issue.message}`, field);
  }
  const cadence = parsed.data;
  if (cadence.kind === 'EVERY_SECONDS' && nodeEnv === 'production') throw badInput('EVERY_SECONDS is a test cadence, not offered in production', 'cadence.kind');
  if (cadence.kind === 'ONCE') {
    // Temporal's calendars count whole seconds: the next whole second at or after the instant asked.
    const at = new Date(Math.ceil(cadence.at.getTime() / 1000) * 1000);
    if (at.getTime() <= now.getTime()) throw badInput('cadence.at must be in the future', 'cadence.at');
    if (at.getTime() > now.getTime() + onceAheadDaysMax * 86_400_000) throw badInput(`cadence.at is at most ${onceAheadDaysMax} days ahead`, 'cadence.at');
    return { kind: 'ONCE', at };
  }
  return cadence;
}

export interface SchedulePaymentInput {
  toPhone: string;
  amount: bigint;
  note?: string | null;
  cadence: ScheduleCadenceInput;
  idempotencyKey: string;
}

const fingerprint = (parts: readonly unknown[]): Buffer => createHash('sha256').update(JSON.stringify(parts)).digest();
const scheduleCodeHash = (key: string, id: string, code: string): Buffer =>
  createHmac('sha256', key).update(`zenpay-schedule-code:${id}:${code}`).digest();

const notFound = () => new AppError('NOT_FOUND', 'No scheduled payment of yours has this id');

/** schedulePayment: records the scheduled payment (or finds the one with this key) and starts its Schedule. */
export async function schedulePayment(deps: ScheduledPaymentDependencies, viewer: User, input: SchedulePaymentInput): Promise<ScheduledPaymentRow> {
  const idempotencyKey = validateIdempotencyKey(input.idempotencyKey);
  const note = input.note ?? null;
  if (note !== null && ([...note].length > noteLengthMax || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(note))) {
    throw badInput(`note is at most ${noteLengthMax} characters, without control characters`, 'note');
  }
  const cadence = parseCadence(input.cadence, deps.nodeEnv);
  const payee = await findUserByPhone(deps.pool, parsePhone(input.toPhone, 'toPhone'));
  if (!payee) throw badInput('No ZenPAY user has this phone number', 'toPhone');
  if (payee.id === viewer.id) throw badInput('You cannot send money to yourself', 'toPhone');
  const id = uuidv7();
  const reason = await stepUpReason(deps.confirmations, { userId: viewer.id, amount: input.amount, counterpartyUserId: payee.id, bank: null, bankAccount: null });
  const totp = reason ? await deps.confirmations.secondFactor.isEnabled(viewer.id) : false;
  const code = reason && !totp ? String(randomInt(0, 1_000_000)).padStart(6, '0') : null;
  const { stepUp } = deps.confirmations;
  const { row, created } = await db.createScheduledPayment(deps.pool, {
    id,
    userId: viewer.id,
    payeeUserId: payee.id,
    amount: input.amount,
    note,
    cadence: cadence.kind,
    runAt: cadence.kind === 'ONCE' ? cadence.at : null,
    dayOfMonth: cadence.kind === 'MONTHLY' ? cadence.dayOfMonth : null,
    dayOfWeek: cadence.kind === 'WEEKLY' ? cadence.dayOfWeek : null,
    timeOfDay: cadence.kind === 'MONTHLY' || cadence.kind === 'WEEKLY' ? cadence.timeOfDay : null,
    everySeconds: cadence.kind === 'EVERY_SECONDS' ? cadence.everySeconds : null,
    timeZone: scheduleTimeZone,
    idempotencyKey,
    requestFingerprint: fingerprint([payee.id, String(input.amount), note, cadence]),
    confirmation: reason
      ? { method: totp ? 'TOTP' : 'SMS', codeHash: code ? scheduleCodeHash(deps.confirmations.codeKey, id, code) : null, withinSeconds: stepUp.withinSeconds, attemptsMax: stepUp.attemptsMax }
      : null,
    liveMax: scheduledPaymentsLiveMax,
  }).catch((error: unknown) => {
    if ((error as { code?: string }).code === db.scheduledPaymentsMaxState) {
      throw new AppError('BAD_USER_INPUT', `At most ${scheduledPaymentsLiveMax} scheduled payments: delete one first`, { reason: 'SCHEDULED_PAYMENTS_MAX' });
    }
    throw error;
  });
  if (!created && !row.requestFingerprint.equals(fingerprint([payee.id, String(input.amount), note, cadence]))) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotencyKey was already used for a different request');
  }
  if (created && code) {
    const what = `scheduling ${describeAmount(input.amount)} to ${payee.phone.slice(0, 3)}•••••${payee.phone.slice(-4)} (${cadence.kind.toLowerCase()})`;
    await deps.confirmations.sms
      .send({ to: viewer.phone, reference: `confirm-schedule-${id}`, body: `ZenPAY: ${code} confirms ${what}. It expires in ${Math.round(stepUp.withinSeconds / 60)} min. Never share it.` })
      .catch(() => {});
  }
  if (row.status === 'ACTIVE') await syncTemporalSide(deps, row);
  return (await db.findScheduledPayment(deps.pool, row.id))!;
}

/** A scheduled payment of the viewer's (not deleted), or NOT_FOUND: another user's is indistinguishable from none. */
export async function ownScheduledPayment(deps: Pick<ScheduledPaymentDependencies, 'pool'>, viewer: User, id: string): Promise<ScheduledPaymentRow> {
  const row = uuidPattern.test(id) ? await db.findScheduledPayment(deps.pool, id.toLowerCase()) : null;
  if (!row || row.userId !== viewer.id || row.status === 'DELETED') throw notFound();
  return row;
}

/** pause, resume or delete: the table first (runs check it), then the Temporal Schedule through the sync workflow. */
export async function changeScheduledPayment(deps: ScheduledPaymentDependencies, viewer: User, id: string, action: 'pause' | 'resume' | 'delete'): Promise<ScheduledPaymentRow> {
  if (!uuidPattern.test(id)) throw notFound();
  const row = await db.changeScheduledPayment(deps.pool, id.toLowerCase(), viewer.id, action);
  if (!row) throw notFound();
  // Also when nothing changed: a sync that failed before is tried again.
  await syncTemporalSide(deps, row);
  return (await db.findScheduledPayment(deps.pool, row.id))!;
}

/**
 * Asks the sync workflow (one per scheduled payment: signal-with-start, so changes are applied one at a
 * time, in order) to make the Schedule match the table, and waits a bounded time for it. Should Temporal
 * be unreachable the table has already changed, and runs obey it; the workflow retries until it is done.
 */
async function syncTemporalSide(deps: ScheduledPaymentDependencies, row: ScheduledPaymentRow): Promise<void> {
  const handle = await deps.temporal.workflow.signalWithStart('scheduledPaymentSyncWorkflow', {
    workflowId: scheduleSyncWorkflowIdFor(row.id),
    taskQueue: deps.taskQueue,
    args: [{ scheduledPaymentId: row.id }],
    signal: 'scheduleChanged',
    signalArgs: [],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [{ key: searchAttributes.userId, value: row.userId }],
    staticSummary: `sync of scheduled payment ${row.id}`,
  });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.mutationWaitMs);
  try {
    await deps.temporal.withAbortSignal(controller.signal, () => handle.result());
  } catch {
    // Not done within the wait (or it failed and is retried): the answer shows the table's state.
  } finally {
    clearTimeout(timer);
  }
}

export async function listOwnScheduledPayments(deps: Pick<ScheduledPaymentDependencies, 'pool'>, viewer: User, first: number): Promise<ScheduledPaymentRow[]> {
  if (!Number.isInteger(first) || first < 1 || first > scheduledPaymentsPageMax) throw badInput(`first must be 1 to ${scheduledPaymentsPageMax}`, 'first');
  return db.listScheduledPayments(deps.pool, viewer.id, first);
}

/** The Schedule's next action times (Temporal's own answer), while the payment is ACTIVE. */
export async function nextRunTimes(deps: Pick<ScheduledPaymentDependencies, 'temporal'>, row: ScheduledPaymentRow, first: number): Promise<Date[]> {
  if (row.status !== 'ACTIVE') return [];
  try {
    const description = await deps.temporal.schedule.getHandle(temporalScheduleIdFor(row.id)).describe();
    if (description.state.paused) return [];
    return description.info.nextActionTimes.slice(0, Math.min(Math.max(first, 0), 10));
  } catch (error) {
    // Not created yet (its sync is still under way).
    if (error instanceof ScheduleNotFoundError) return [];
    throw error;
  }
}

const codePattern = /^[0-9]{6}$|^[A-Za-z0-9-]{8,32}$/;

/** confirmScheduledPayment: checks the step-up code given at scheduling time; confirmed, the Schedule starts. */
export async function confirmScheduledPayment(
  deps: ScheduledPaymentDependencies,
  viewer: User,
  input: { id: string; code: string },
  clientAddress: string | null,
): Promise<ScheduledPaymentRow> {
  const row = await ownScheduledPayment(deps, viewer, input.id);
  if (row.status !== 'AWAITING_CONFIRMATION') return row;
  if (!codePattern.test(input.code)) throw badInput('code is the 6 digits of the SMS or the authenticator (or a recovery code)', 'code');
  const totp = row.confirmMethod === 'TOTP';
  const verified = totp && (await deps.confirmations.secondFactor.verify(viewer.id, input.code, `confirm scheduled payment ${row.id}`)) === 'ok';
  const codeHash = totp ? null : scheduleCodeHash(deps.confirmations.codeKey, row.id, input.code);
  const result = await db.confirmScheduledPayment(deps.pool, row.id, viewer.id, verified, codeHash);
  const outcome = result === 'confirmed' ? 'success' : result === 'failed' ? 'denied' : 'failure';
  await recordSecurityEvent(deps.pool, {
    kind: 'scheduled_payment.confirmation', outcome, userId: viewer.id, actor: 'user', clientAddress, subject: row.id, details: { result, method: row.confirmMethod },
  });
  switch (result) {
    case 'confirmed':
      await syncTemporalSide(deps, (await db.findScheduledPayment(deps.pool, row.id))!);
      return (await db.findScheduledPayment(deps.pool, row.id))!;
    case 'not_awaiting':
      return (await db.findScheduledPayment(deps.pool, row.id))!;
    case 'not_found':
      throw notFound();
    case 'expired':
      throw new AppError('BAD_USER_INPUT', 'The confirmation expired: schedule the payment again', { field: 'code', reason: 'CONFIRMATION_EXPIRED' });
    case 'failed':
      throw new AppError('BAD_USER_INPUT', 'Too many wrong codes: the scheduled payment was canceled', { field: 'code', reason: 'CONFIRMATION_FAILED' });
    default:
      throw new AppError('BAD_USER_INPUT', 'Wrong code', { field: 'code', attemptsLeft: Math.max((row.confirmAttemptsMax ?? 0) - row.confirmAttempts - 1, 0) });
  }
}
