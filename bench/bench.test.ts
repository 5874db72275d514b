// Smoke tests of `npm run bench`: the real command, as its own process, for a few seconds of the uniform
// scenario with every baseline against this file's test system (API, worker, database, Temporal), and on
// a cluster profile the bench starts, scales down and up itself.
// They check only that the runs complete and report figures, never how fast anything is.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestSystem, type TestSystem } from '../test/system';
import { projectRoot } from '../system/temporal';
import type { RunReport } from './report';

const benchTimeoutMs = 120_000;
/** A fresh cluster, its users, two phases and three of the scaling series. */
const clusterBenchTimeoutMs = 270_000;

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
function runBench(args: readonly string[], timeoutMs = benchTimeoutMs): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench', 'main.ts'), ...args], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_POOL_SIZE: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
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

test('bench | --profile cluster with a scaling series of workers and API processes | measures the cluster, scales it down and up, reports the profiles and the series', async () => {
  const { code, output } = await runBench([
    '--profile', 'cluster',
    // One shard: a fresh cluster starts fastest; the profile's 512 are for the README's figures.
    '--shards', '1',
    '--scaling', 'workers,apis',
    '--scale-points', '1,2',
    '--baselines', 'noop-workflow',
    '--scenario', 'uniform',
    '--users', '10',
    '--concurrency', '4',
    '--duration', '2',
    '--warmup', '0',
    '--out', outDir,
  ], clusterBenchTimeoutMs);
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('### Scaling the cluster profile') });
  expect(output).toContain('### On paper: cores for a given rate');

  const json = readdirSync(outDir).filter((file) => file.endsWith('.json')).sort().at(-1)!;
  const report = JSON.parse(readFileSync(path.join(outDir, json), 'utf8')) as RunReport;
  expect(report.profiles).toEqual([{ profile: 'cluster', shape: { apis: 2, workers: 2, shards: 1 } }]);
  const phases = report.scenarios[0]!.phases;
  expect(phases.map((phase) => [phase.target, phase.profile])).toEqual([['noop-workflow', 'cluster'], ['zenpay', 'cluster']]);
  // Every API process and worker of the cluster measured on a row of its own.
  expect(phases[1]!.processes.map((metrics) => metrics.name)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'api-1', 'api-2', 'worker-1', 'worker-2']));

  // 1 then 2 of each; the point at the profile's own shape is its uniform phase, not measured twice.
  expect(report.scaling.map((point) => [point.dimension, point.count, point.phase.shape])).toEqual([
    ['workers', 1, { apis: 2, workers: 1, shards: 1 }],
    ['workers', 2, { apis: 2, workers: 2, shards: 1 }],
    ['apis', 1, { apis: 1, workers: 2, shards: 1 }],
    ['apis', 2, { apis: 2, workers: 2, shards: 1 }],
  ]);
  const scaledDown = report.scaling.find((point) => point.dimension === 'workers' && point.count === 1)!.phase;
  expect(scaledDown.processes.map((metrics) => metrics.name).filter((name) => name.startsWith('worker'))).toEqual(['worker-1']);
  const oneApi = report.scaling.find((point) => point.dimension === 'apis' && point.count === 1)!.phase;
  // After the workers' series the cluster is back at two workers.
  expect(oneApi.processes.map((metrics) => metrics.name).filter((name) => /^(api|worker)-/.test(name)).sort()).toEqual(['api-1', 'worker-1', 'worker-2']);
  for (const point of report.scaling) {
    expect(point.phase.completed).toBeGreaterThan(0);
    expect(point.phase.errors).toEqual({});
  }
}, clusterBenchTimeoutMs + 30_000);
