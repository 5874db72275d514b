// Scheduled and recurring payments: ids, names and types shared by the API, the workflows and the
// activities. Imported by workflow code, so free of Node built-ins and I/O.

export const scheduleCadences = ['ONCE', 'MONTHLY', 'WEEKLY', 'EVERY_SECONDS'] as const;
export type ScheduleCadence = (typeof scheduleCadences)[number];

export const scheduledPaymentStatuses = ['AWAITING_CONFIRMATION', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELED', 'DELETED'] as const;
export type ScheduledPaymentStatus = (typeof scheduledPaymentStatuses)[number];

export const weekdays = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;
export type Weekday = (typeof weekdays)[number];

/** Calendar cadences are in India's time; ONCE is an instant. */
export const scheduleTimeZone = 'Asia/Kolkata';

/** The Temporal Schedule of a scheduled payment (the UI's Schedules page). */
export const temporalScheduleIdFor = (scheduledPaymentId: string): string => `zenpay-scheduled-${scheduledPaymentId}`;

/** The one workflow that makes the Temporal Schedule match the table (signal-with-start: one at a time). */
export const scheduleSyncWorkflowIdFor = (scheduledPaymentId: string): string => `zenpay-scheduled-sync-${scheduledPaymentId}`;

/** The run workflows' id prefix; Temporal appends each action time to it. */
export const scheduleRunWorkflowIdFor = (scheduledPaymentId: string): string => `zenpay-scheduled-run-${scheduledPaymentId}`;

/**
 * The idempotency key of a run's TRANSFER: the schedule and its action time, so a retried or duplicated
 * run of one action time finds the transaction recorded by the first and never pays twice.
 */
export const runIdempotencyKey = (scheduledPaymentId: string, scheduledAt: string): string =>
  `scheduled:${scheduledPaymentId}:${new Date(scheduledAt).toISOString()}`;

/** The Temporal Schedule's own search attribute on every workflow it starts. */
export const scheduledStartTimeAttribute = 'TemporalScheduledStartTime';

export interface ScheduledRunInput {
  scheduledPaymentId: string;
  /** Only for a run started by hand (tests, an operator's re-run of one action time); a Schedule's run reads its action time. */
  scheduledAt?: string;
}

export interface ScheduledRunResult {
  scheduledAt: string;
  /** 'skipped': the table says the payment is not ACTIVE (paused or deleted before Temporal knew). */
  outcome: 'submitted' | 'refused' | 'skipped';
  transactionId: string | null;
  /** The transaction's status when submitted, or the refusal's code (e.g. LIMIT_EXCEEDED). */
  status: string | null;
  code: string | null;
}

export interface ScheduleSyncResult {
  /** The row's version the Temporal Schedule now matches. */
  version: string;
  state: 'created' | 'updated' | 'paused' | 'deleted' | 'absent';
}
