// Bundles the workflow code once (webpack, as the worker would at start-up) into a file that workers
// load with WORKFLOW_BUNDLE_PATH, so restarts in tests and drills skip the bundling.
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

async function main(): Promise<void> {
  const output = process.argv[2];
  if (!output) throw new Error('usage: bundle-workflows.ts <output.js>');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(path.join(__dirname, '..', 'workflows')),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  writeFileSync(output, code);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
