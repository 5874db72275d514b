// Scheduled payments on Temporal Schedules. Each action of a scheduled payment's Schedule starts a run
// workflow, which submits one ordinary TRANSFER for that action time (TemporalScheduledStartTime) and
// starts its transfer workflow; the sync workflow, one per scheduled payment and fed by signals, makes
// the Schedule match the table after every change (retrying until Temporal answers).
import {
  ApplicationFailure,
  continueAsNew,
  defineSignal,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  scheduledStartTimeAttribute,
  type ScheduledRunInput,
  type ScheduledRunResult,
  type ScheduleSyncResult,
} from '../common/scheduled-payments';
import { ledgerRetry } from './retry-policies';

const { submitScheduledRun, syncScheduledPayment } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { ...ledgerRetry, nonRetryableErrorTypes: [...(ledgerRetry.nonRetryableErrorTypes ?? []), 'MISSING_SCHEDULED_PAYMENT'] },
});

/** Sent by the API after each change of a scheduled payment's row: look at the table again. */
export const scheduleChangedSignal = defineSignal('scheduleChanged');

const scheduledStartTime = defineSearchAttributeKey(scheduledStartTimeAttribute, SearchAttributeType.DATETIME);
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Syncs one run makes before continuing as new (bounded history). */
const syncsPerRunMax = 100;

export async function scheduledPaymentRunWorkflow(input: ScheduledRunInput): Promise<ScheduledRunResult> {
  // Input from a Schedule, or from whoever starts it by hand: parsed like any other.
  if (typeof input?.scheduledPaymentId !== 'string' || !uuidPattern.test(input.scheduledPaymentId)) {
    throw ApplicationFailure.nonRetryable('scheduledPaymentId is not a scheduled payment id', 'BAD_INPUT');
  }
  const given = input.scheduledAt === undefined ? null : new Date(input.scheduledAt);
  if (given && Number.isNaN(given.getTime())) throw ApplicationFailure.nonRetryable('scheduledAt is not an instant', 'BAD_INPUT');
  const actionTime = given ?? workflowInfo().typedSearchAttributes.get(scheduledStartTime) ?? null;
  if (!actionTime) throw ApplicationFailure.nonRetryable(`no ${scheduledStartTimeAttribute}: a run belongs to an action of its Schedule`, 'BAD_INPUT');
  return submitScheduledRun({ scheduledPaymentId: input.scheduledPaymentId, scheduledAt: actionTime.toISOString() });
}

export async function scheduledPaymentSyncWorkflow(input: { scheduledPaymentId: string }): Promise<ScheduleSyncResult> {
  let pending = true;
  setHandler(scheduleChangedSignal, () => {
    pending = true;
  });
  let result: ScheduleSyncResult = { version: '0', state: 'absent' };
  for (let syncs = 0; pending; syncs++) {
    if (syncs >= syncsPerRunMax) return continueAsNew<typeof scheduledPaymentSyncWorkflow>(input);
    pending = false;
    result = await syncScheduledPayment({ scheduledPaymentId: input.scheduledPaymentId });
  }
  return result;
}
