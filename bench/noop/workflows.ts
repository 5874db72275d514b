// Temporal's floor for the benchmark: a workflow that runs one no-op local activity and completes,
// the same shape as a ZenPAY transfer (one local activity, done in its first workflow task) without
// ZenPAY's own work (SQL, API, outbox).
import { proxyLocalActivities } from '@temporalio/workflow';
import type { NoopActivities } from './activities';

const { noop } = proxyLocalActivities<NoopActivities>({ startToCloseTimeout: '15s' });

export async function noopWorkflow(): Promise<void> {
  await noop();
}
