// Smoke test of `npm run bench`: the real command, as its own process, for a few seconds of the uniform
// scenario with every baseline against this file's test system (API, worker, database, Temporal).
// It checks only that the run completes and reports figures, never how fast anything is.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestSystem, type TestSystem } from '../test/system';
import { projectRoot } from '../system/temporal';
import type { RunReport } from './report';

const benchTimeoutMs = 120_000;

let system: TestSystem;
let outDir: string;
beforeAll(async () => {
  system = await startTestSystem();
  outDir = mkdtempSync(path.join(tmpdir(), 'zenpay-bench-smoke-'));
});
afterAll(async () => {
  await system?.stop();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** Runs the bench command to its end (or kills it after the time limit); resolves with its exit code and output. */
function runBench(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench', 'main.ts'), ...args], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_POOL_SIZE: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), benchTimeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('bench | a few seconds of uniform with every baseline (Temporal floor included) | completes and reports figures, JSON and a chart', async () => {
  const { code, output } = await runBench([
    '--url', system.graphqlUrl,
    '--database-url', system.databaseUrl,
    '--temporal-address', system.temporalAddress,
    '--task-queue', system.taskQueue,
    '--sms-url', system.smsSimUrl,
    '--pids', `api=${system.api.pid},worker=${system.worker.pid}`,
    '--scenario', 'uniform',
    '--users', '20',
    '--concurrency', '4',
    '--duration', '2',
    '--warmup', '0',
    '--out', outDir,
  ]);
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('### uniform') });

  const files = readdirSync(outDir);
  const json = files.find((file) => file.endsWith('.json'));
  const chart = files.find((file) => file.endsWith('-uniform.png'));
  expect(json).toBeDefined();
  expect(chart).toBeDefined();
  expect(readFileSync(path.join(outDir, chart!)).subarray(1, 4).toString()).toBe('PNG');

  const report = JSON.parse(readFileSync(path.join(outDir, json!), 'utf8')) as RunReport;
  const phases = report.scenarios[0]!.phases;
  expect(phases.map((phase) => phase.target)).toEqual(['direct-sql', 'api-direct', 'noop-workflow', 'zenpay']);
  for (const phase of phases) {
    expect(phase.completed).toBeGreaterThan(0);
    expect(phase.throughputPerSecond).toBeGreaterThan(0);
    for (const figure of [phase.latencyMs.p50, phase.latencyMs.p90, phase.latencyMs.p99, phase.latencyMs.max]) expect(Number.isFinite(figure)).toBe(true);
    const measured = phase.processes.map((metrics) => metrics.name);
    expect(measured).toEqual(expect.arrayContaining(['postgres', 'temporal', 'worker', 'api', 'bench client']));
    if (phase.target === 'noop-workflow') expect(measured).toContain('noop-worker');
    for (const metrics of phase.processes) {
      expect(Number.isFinite(metrics.cpuSeconds)).toBe(true);
      expect(metrics.peakRssBytes).toBeGreaterThan(0);
    }
  }
}, 180_000);
