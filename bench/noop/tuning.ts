// The worker settings ZenPAY's worker reads (WORKER_*), read from the same environment for Temporal's floor.
import { z } from 'zod';
import { workerTuningFields } from '../../common/config';
import { workerTuning } from '../../common/worker-tuning';

const tuningSchema = z.object({
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(1000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(1).max(1000).default(100),
  ...workerTuningFields,
});

export const noopWorkerTuning = (env: NodeJS.ProcessEnv = process.env) => workerTuning(tuningSchema.parse(env));
