// Scheduled payments' I/O: a run submits an ordinary TRANSFER (limits and fraud rules as for sendMoney,
// under an idempotency key made of the schedule and its action time) and starts its transfer workflow
// with the id scheme the API uses; the sync makes the Temporal Schedule match the table's row.
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { limitRefusal, limitsArgument, scorePayment, type FraudPolicy } from '../api/fraud';
import { AppError } from '../common/errors';
import { ensurePaymentWorkflow } from '../common/payment-workflows';
import {
  runIdempotencyKey,
  scheduleRunWorkflowIdFor,
  temporalScheduleIdFor,
  type ScheduledRunResult,
  type ScheduleSyncResult,
} from '../common/scheduled-payments';
import { isFinalStatus, searchAttributes } from '../common/transactions';
import type { Pool } from '../db/pool';
import {
  findScheduledPayment,
  findScheduledRun,
  noteScheduleSynced,
  recordScheduledRun,
  type ScheduledPaymentRow,
  type ScheduledRunRow,
} from '../db/scheduled-payments';
import { findTransaction, submitTransaction, type TransactionRow } from '../db/transactions';

export interface ScheduledPaymentDependencies {
  pool: Pool;
  client: Client;
  taskQueue: string;
  /** The same limits and rules the API applies to sendMoney (README, "Fraud and limits"). */
  fraud: FraudPolicy;
}

/**
 * Overlap: a run that finds the previous one of its schedule still running waits for it (BUFFER_ONE),
 * so one schedule's runs are submitted in order and counted against limits one after another; more than
 * one waiting is dropped, which only happens when the workers were down through several action times.
 * Catch-up: an action missed while Temporal was down is still taken within a day (a monthly payment
 * late by hours is still wanted), never later (a payment weeks late would surprise its user).
 */
const schedulePolicies = { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 day' } as const;

const months = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'] as const;

/** The Temporal Schedule spec of a scheduled payment's cadence. */
export function scheduleSpecOf(row: Pick<ScheduledPaymentRow, 'cadence' | 'runAt' | 'dayOfMonth' | 'dayOfWeek' | 'timeOfDay' | 'everySeconds' | 'timeZone'>): ScheduleSpec {
  const [hour, minute] = (row.timeOfDay ?? '00:00').split(':').map(Number) as [number, number];
  switch (row.cadence) {
    case 'ONCE': {
      const at = row.runAt!;
      return {
        calendars: [{
          year: at.getUTCFullYear(), month: months[at.getUTCMonth()]!, dayOfMonth: at.getUTCDate(),
          hour: at.getUTCHours(), minute: at.getUTCMinutes(), second: at.getUTCSeconds(),
        }],
      };
    }
    case 'MONTHLY':
      return { calendars: [{ dayOfMonth: row.dayOfMonth!, hour, minute }], timezone: row.timeZone };
    case 'WEEKLY':
      return { calendars: [{ dayOfWeek: row.dayOfWeek!, hour, minute }], timezone: row.timeZone };
    case 'EVERY_SECONDS':
      return { intervals: [{ every: row.everySeconds! * 1000 }] };
  }
}

/** The request's fingerprint as the API computes it for sendMoney (a key reused by hand must match it). */
const transferFingerprint = (row: ScheduledPaymentRow): Buffer =>
  createHash('sha256').update(JSON.stringify(['TRANSFER', String(row.amount), row.payeeUserId, row.note, null, null])).digest();

export function createScheduledPaymentActivities(deps: ScheduledPaymentDependencies) {
  const { pool } = deps;
  const target = { client: deps.client, taskQueue: deps.taskQueue };

  /** A run recorded earlier: its TRANSFER's workflow is made sure of again (a crash may have come first). */
  async function resultOfRun(run: ScheduledRunRow): Promise<ScheduledRunResult> {
    const scheduledAt = run.scheduledAt.toISOString();
    if (!run.transactionId) return { scheduledAt, outcome: 'refused', transactionId: null, status: null, code: run.refusalCode };
    const transaction = (await findTransaction(pool, run.transactionId))!;
    if (!isFinalStatus(transaction.status)) await ensurePaymentWorkflow(target, transaction);
    return { scheduledAt, outcome: 'submitted', transactionId: transaction.id, status: transaction.status, code: transaction.failureCode };
  }

  async function refuse(row: ScheduledPaymentRow, scheduledAt: string, code: string): Promise<ScheduledRunResult> {
    return resultOfRun(await recordScheduledRun(pool, row.id, scheduledAt, null, code));
  }

  /** Records the run's TRANSFER as sendMoney would (limits, fraud score, review), or the limit's refusal. */
  async function submitRunTransfer(row: ScheduledPaymentRow, scheduledAt: string): Promise<TransactionRow | AppError> {
    const decision = await scorePayment(pool, deps.fraud, { kind: 'TRANSFER', userId: row.userId, amount: row.amount, payeeId: row.payeeUserId, sessionTokenHash: null }, null);
    try {
      const { transaction } = await submitTransaction(pool, {
        limits: limitsArgument(deps.fraud),
        decision,
        id: uuidv7(),
        // Pre-authorised: its user confirmed this payee and amount with a second factor when scheduling.
        confirmation: null,
        kind: 'TRANSFER',
        userId: row.userId,
        counterpartyUserId: row.payeeUserId,
        amount: row.amount,
        note: row.note,
        idempotencyKey: runIdempotencyKey(row.id, scheduledAt),
        requestFingerprint: transferFingerprint(row),
        bank: null,
        bankAccount: null,
      });
      return transaction;
    } catch (error) {
      return limitRefusal(pool, error, { userId: row.userId, clientAddress: null, kind: 'TRANSFER' }).catch((refusal: unknown) => {
        if (refusal instanceof AppError) return refusal;
        throw refusal;
      });
    }
  }

  return {
    /**
     * One run of a scheduled payment at one action time. Idempotent: the run's record and its TRANSFER's
     * idempotency key both derive from (schedule, action time), so a retried or duplicated run finds them.
     */
    async submitScheduledRun({ scheduledPaymentId, scheduledAt }: { scheduledPaymentId: string; scheduledAt: string }): Promise<ScheduledRunResult> {
      const earlier = await findScheduledRun(pool, scheduledPaymentId, scheduledAt);
      if (earlier) return resultOfRun(earlier);
      const row = await findScheduledPayment(pool, scheduledPaymentId);
      if (!row) throw ApplicationFailure.nonRetryable(`scheduled payment ${scheduledPaymentId} does not exist`, 'MISSING_SCHEDULED_PAYMENT');
      // The table is the source of truth: a schedule paused or deleted before Temporal heard of it pays nothing.
      if (row.status !== 'ACTIVE') return { scheduledAt, outcome: 'skipped', transactionId: null, status: row.status, code: null };
      const transaction = await submitRunTransfer(row, scheduledAt);
      if (transaction instanceof AppError) return refuse(row, scheduledAt, transaction.code);
      // The user used this run's key by hand for another payment: that one is theirs, this run pays nothing.
      if (!transaction.requestFingerprint.equals(transferFingerprint(row))) return refuse(row, scheduledAt, 'IDEMPOTENCY_KEY_REUSED');
      return resultOfRun(await recordScheduledRun(pool, row.id, scheduledAt, transaction.id, null));
    },

    /** Makes the Temporal Schedule match the row: created, paused or unpaused, or deleted. Idempotent. */
    async syncScheduledPayment({ scheduledPaymentId }: { scheduledPaymentId: string }): Promise<ScheduleSyncResult> {
      const row = await findScheduledPayment(pool, scheduledPaymentId);
      const handle = deps.client.schedule.getHandle(temporalScheduleIdFor(scheduledPaymentId));
      let state: ScheduleSyncResult['state'];
      if (!row || row.status === 'DELETED' || row.status === 'CANCELED' || row.status === 'AWAITING_CONFIRMATION') {
        state = await handle.delete().then(
          () => 'deleted' as const,
          (error: unknown) => {
            if (error instanceof ScheduleNotFoundError) return 'absent' as const;
            throw error;
          },
        );
      } else if (row.status === 'COMPLETED') {
        // A ONCE payment that ran: its Schedule has no action left and stays for operators to see.
        state = 'updated';
      } else {
        state = await ensureTemporalSchedule(deps, row);
      }
      if (row) await noteScheduleSynced(pool, row.id, row.version);
      return { version: String(row?.version ?? 0n), state };
    },
  };
}

async function ensureTemporalSchedule(deps: ScheduledPaymentDependencies, row: ScheduledPaymentRow): Promise<ScheduleSyncResult['state']> {
  const paused = row.status === 'PAUSED';
  const note = `scheduled payment ${row.id} of user ${row.userId}: ${paused ? 'paused' : 'active'} (ZenPAY's table decides)`;
  try {
    await deps.client.schedule.create({
      scheduleId: temporalScheduleIdFor(row.id),
      spec: scheduleSpecOf(row),
      action: {
        type: 'startWorkflow',
        workflowType: 'scheduledPaymentRunWorkflow',
        taskQueue: deps.taskQueue,
        workflowId: scheduleRunWorkflowIdFor(row.id),
        args: [{ scheduledPaymentId: row.id }],
        typedSearchAttributes: [
          { key: searchAttributes.userId, value: row.userId },
          { key: searchAttributes.kind, value: 'TRANSFER' },
        ],
        staticSummary: `scheduled payment ${row.id}: ${row.amount} paise`,
      },
      policies: schedulePolicies,
      // A ONCE payment confirmed (or synced) only after its instant runs at once; either way once only: its
      // first run completes it, and a run of a payment not ACTIVE pays nothing.
      state: { paused, note, ...(row.cadence === 'ONCE' ? { remainingActions: 1, triggerImmediately: row.runAt!.getTime() <= Date.now() } : {}) },
      memo: { userId: row.userId, payeeUserId: row.payeeUserId, amount: String(row.amount), cadence: row.cadence },
      typedSearchAttributes: [{ key: searchAttributes.userId, value: row.userId }],
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = deps.client.schedule.getHandle(temporalScheduleIdFor(row.id));
  const description = await handle.describe();
  if (description.state.paused === paused) return 'updated';
  if (paused) await handle.pause(note);
  else await handle.unpause(note);
  return paused ? 'paused' : 'updated';
}
