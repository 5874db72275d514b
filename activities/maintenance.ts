// Background jobs that must run are Temporal Schedules (operators see and steer them in the UI), not
// timers hidden in a process: the reconciler, the outbox's retention and the daily statement reconciliation. The worker makes sure they
// exist at start (created once per task queue, their interval updated when the configuration changed).
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export interface ScheduleOptions {
  client: Client;
  taskQueue: string;
  /** 0 turns the reconciler's schedule off (deletes it). */
  reconcileIntervalMs: number;
  eventPruneIntervalMs: number;
}

export const scheduleIds = (taskQueue: string) => ({
  reconciler: `zenpay-reconciler-${taskQueue}`,
  eventRetention: `zenpay-event-retention-${taskQueue}`,
  statement: `zenpay-statement-${taskQueue}`,
});

type Spec = { intervals: Array<{ every: number }> } | { calendars: Array<{ hour: number; minute: number }> };

async function ensureSchedule(client: Client, taskQueue: string, scheduleId: string, workflowType: string, spec: Spec): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: { type: 'startWorkflow', workflowType, taskQueue, args: [], workflowId: scheduleId },
      // One pass at a time; a missed pass is not caught up (the next one covers everything anyway).
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec }));
  }
}

export async function ensureSchedules(options: ScheduleOptions): Promise<void> {
  const ids = scheduleIds(options.taskQueue);
  if (options.reconcileIntervalMs > 0) {
    await ensureSchedule(options.client, options.taskQueue, ids.reconciler, 'reconcilerWorkflow', { intervals: [{ every: options.reconcileIntervalMs }] });
  } else {
    await options.client.schedule.getHandle(ids.reconciler).delete().catch(() => {});
  }
  await ensureSchedule(options.client, options.taskQueue, ids.eventRetention, 'eventRetentionWorkflow', { intervals: [{ every: options.eventPruneIntervalMs }] });
  // Every day at 00:30 UTC, the previous day's statement (the bank's day is over by then).
  await ensureSchedule(options.client, options.taskQueue, ids.statement, 'statementReconciliationWorkflow', { calendars: [{ hour: 0, minute: 30 }] });
}
