// Bundles the workflow code once (webpack, as the worker would at start-up) into a file that workers
// load with WORKFLOW_BUNDLE_PATH, so restarts in tests and drills skip the bundling. `--tracing` bundles
// Temporal's OpenTelemetry workflow interceptors in too, for WORKFLOW_TRACING_BUNDLE_PATH (tracing on).
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowTracingModule } from '../common/worker-observability';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

async function main(): Promise<void> {
  const output = process.argv[2];
  if (!output) throw new Error('usage: bundle-workflows.ts <output.js> [--tracing]');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(path.join(__dirname, '..', 'workflows')),
    workflowInterceptorModules: process.argv.includes('--tracing') ? [workflowTracingModule] : [],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  writeFileSync(output, code);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
