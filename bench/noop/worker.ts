// The benchmark's noop-workflow worker: its own process, task queue and workflow (bench/noop), with
// the very worker settings ZenPAY's worker runs with (common/worker-tuning.ts, the same environment).
import { NativeConnection, Worker } from '@temporalio/worker';
import { z } from 'zod';
import { noopActivities } from './activities';
import { noopWorkerTuning } from './tuning';

const configSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  NOOP_TASK_QUEUE: z.string().min(1),
});

async function main(): Promise<void> {
  const config = configSchema.parse(process.env);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.NOOP_TASK_QUEUE,
    workflowsPath: require.resolve('./workflows'),
    activities: noopActivities,
    ...noopWorkerTuning(),
  });
  console.log(JSON.stringify({ msg: 'noop worker running', taskQueue: config.NOOP_TASK_QUEUE }));
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
