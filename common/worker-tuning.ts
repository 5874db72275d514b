// How a Temporal worker polls and caches, in one place: ZenPAY's worker and the benchmark's
// noop-workflow worker (Temporal's floor) run with the same settings, so the two compare fairly.
import type { WorkerOptions } from '@temporalio/worker';

export interface WorkerTuningConfig {
  WORKER_MAX_CONCURRENT_ACTIVITIES: number;
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: number;
  WORKER_WORKFLOW_TASK_POLLERS: number;
  WORKER_STICKY_POLL_RATIO: number;
  /** Unset: the SDK's default (from the memory it may use). 0 is refused: it leaves local-activity workflows stuck. */
  WORKER_MAX_CACHED_WORKFLOWS?: number | undefined;
}

export const workerTuningDefaults: WorkerTuningConfig = {
  WORKER_MAX_CONCURRENT_ACTIVITIES: 100,
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: 100,
  WORKER_WORKFLOW_TASK_POLLERS: 10,
  WORKER_STICKY_POLL_RATIO: 0.2,
};

export function workerTuning(config: WorkerTuningConfig): Partial<WorkerOptions> {
  return {
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentLocalActivityExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentWorkflowTaskPolls: config.WORKER_WORKFLOW_TASK_POLLERS,
    nonStickyToStickyPollRatio: config.WORKER_STICKY_POLL_RATIO,
    ...(config.WORKER_MAX_CACHED_WORKFLOWS === undefined ? {} : { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS }),
  };
}
