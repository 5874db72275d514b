// Workflows are code that runs for weeks: every history recorded by scripts/record-histories.ts (one
// of each workflow type and path) is replayed against the current workflow code, so a change that
// would break a running workflow (a new command, a reordered step, not behind patched()) fails here.
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as workflows from './index';

const historiesDir = path.join(__dirname, 'histories');
const histories = readdirSync(historiesDir)
  .filter((file) => file.endsWith('.json'))
  .map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8')) }));

const workflowTypeOf = (history: { events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }> }) =>
  history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

test('replay | recorded histories | cover every workflow type the worker runs', () => {
  const recorded = new Set(histories.map(({ history }) => workflowTypeOf(history)));
  expect(Object.keys(workflows).filter((name) => !recorded.has(name))).toEqual([]);
});

test('replay | every recorded history | replays against the current workflow code without nondeterminism', async () => {
  const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
  const source = bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: require.resolve('./index') };
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(source, histories)) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
});
