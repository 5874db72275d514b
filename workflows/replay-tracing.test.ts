// Tracing on must not break running workflows: every recorded history (workflows/histories/) replays
// against the workflow code bundled with Temporal's OpenTelemetry workflow interceptors, as a worker
// with OTEL_EXPORTER_OTLP_ENDPOINT set runs it, with the span sink in place (spans are dropped here).
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { workflowTracingModule } from '../common/worker-observability';

const historiesDir = path.join(__dirname, 'histories');
const histories = readdirSync(historiesDir)
  .filter((file) => file.endsWith('.json'))
  .map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8')) }));

test('replay with tracing | every recorded history | replays with the OpenTelemetry workflow interceptors without nondeterminism', async () => {
  const exported: unknown[] = [];
  const failures: string[] = [];
  let replayed = 0;
  const options = {
    workflowsPath: require.resolve('./index'),
    interceptors: { workflowModules: [workflowTracingModule] },
    sinks: { exporter: { export: { fn: (_info: unknown, spans: unknown[]) => void exported.push(...spans), callDuringReplay: false } } },
  };
  for await (const result of Worker.runReplayHistories(options, histories)) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
  expect(histories.length).toBeGreaterThan(10);
});
