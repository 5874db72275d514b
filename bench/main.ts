// `npm run bench`: simulated clients sign up, get money, subscribe and pay through the public API of a
// system the bench starts (or one given by --url), against the direct-sql, api-direct and noop-workflow
// baselines; with --profile dev,cluster on both profiles one after the other, and with --scaling on the
// cluster profile at 1, 2 and 4 workers, API processes and history shards.
// Writes a Markdown table, the raw figures as JSON and a chart per scenario under --out (bench/results).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderChart } from './chart';
import { clusterProfileShape, parseOptions, usage, type BaselineName, type BenchOptions } from './options';
import { createProgressDisplay, type ProgressDisplay } from './progress';
import { machineInfo, runReport, type RunReport } from './report';
import { cleanUp, prepare, runScenario, runZenpayPhase, type Population, type RunContext, type ScenarioResult } from './run';
import { attachToSystem, startOwnCluster, startOwnSystem, type BenchSystem, type ClusterShape } from './system';

/** Credentials never reach the report. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function readOptions(): BenchOptions {
  try {
    const options = parseOptions(process.argv.slice(2));
    if (options !== 'help') return options;
    console.log(usage);
    process.exit(0);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}

async function writeResults(outDir: string, stamp: string, report: RunReport, log: (message: string) => void): Promise<void> {
  const base = path.join(outDir, `bench-${stamp}`);
  const markdown = runReport(report);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 1) + '\n');
  writeFileSync(`${base}.md`, markdown);
  const charts: string[] = [];
  for (const result of report.scenarios) {
    const file = `${base}-${result.scenario}.png`;
    writeFileSync(file, await renderChart(result));
    charts.push(file);
  }
  console.log(`\n${markdown}`);
  log(`raw figures: ${base}.json`);
  log(`table: ${base}.md`);
  for (const chart of charts) log(`chart: ${chart}`);
}

/** Ctrl-C: stop sending, finish what is in flight, report what was measured. */
const abort = new AbortController();

/**
 * Users on the system, the work, then the system taken down (its data and logs kept when the work failed).
 * Ctrl-C during the work still reports what was measured.
 */
async function withSystem(
  system: BenchSystem,
  options: BenchOptions,
  display: ProgressDisplay,
  baselines: readonly BaselineName[],
  work: (context: RunContext, population: Population) => Promise<void>,
): Promise<void> {
  const context: RunContext = { options, system, display, signal: abort.signal };
  let population: Population | null = null;
  let completed = false;
  try {
    population = await prepare(context, baselines);
    await work(context, population);
    completed = true;
  } finally {
    display.log(`stopping the ${system.profile} system`);
    await cleanUp(context, population);
    await system.stop({ keepData: !completed });
    if (!completed) display.log(`logs kept in ${system.logDir}`);
  }
}

/** Puts one scenario's phases beside those another profile ran of it. */
function addScenario(report: RunReport, result: ScenarioResult): void {
  const existing = report.scenarios.find((candidate) => candidate.scenario === result.scenario);
  if (!existing) report.scenarios.push(result);
  else {
    existing.phases.push(...result.phases);
    existing.skipped.push(...result.skipped);
  }
}

/** The scaling series' scenario: uniform transfers, as issue 14's and 15's figures are. */
const scalingScenario = 'uniform';

async function main(): Promise<void> {
  const options = readOptions();
  const display = createProgressDisplay(options.quiet);
  const log = (message: string) => display.log(message);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const outDir = path.resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });

  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    display.log('stopping: finishing what is in flight (Ctrl-C again to quit at once)');
    abort.abort();
  });

  const report: RunReport = {
    startedAt: startedAt.toISOString(),
    machine: machineInfo(),
    system: { mode: options.url ? 'attached' : 'own', graphqlUrl: options.url ?? '' },
    options: { ...options, databaseUrl: withoutPassword(options.databaseUrl) },
    notes: [],
    profiles: [],
    scenarios: [],
    scaling: [],
  };
  const runScenarios = async (context: RunContext, population: Population, baselines: readonly BaselineName[]) => {
    report.profiles.push({ profile: context.system.profile, shape: context.system.cluster?.shape() ?? null });
    report.notes.push(...context.system.notes);
    for (const scenario of options.scenarios) {
      if (abort.signal.aborted) return;
      addScenario(report, await runScenario(context, scenario, population, baselines));
    }
  };
  /** The cluster profile's own uniform phase, when the scaling series asks for the shape it ran at. */
  const measuredAt = (shape: ClusterShape) =>
    report.scenarios
      .find((result) => result.scenario === scalingScenario)
      ?.phases.find((phase) => phase.target === 'zenpay' && phase.profile === 'cluster' && sameShape(phase.shape, shape));
  const measureScale = async (context: RunContext, population: Population, dimension: 'workers' | 'apis') => {
    const cluster = context.system.cluster!;
    // The shape every other point returns to: the profile's own.
    const own = cluster.shape();
    for (const count of scalePoints(options)) {
      if (abort.signal.aborted) break;
      const shape = { ...own, [dimension]: count };
      const measured = measuredAt(shape);
      if (measured) log(`scaling ${dimension} = ${count}: measured already (the cluster profile's own ${scalingScenario} phase)`);
      else await cluster.scale(shape);
      report.scaling.push({ dimension, count, phase: measured ?? (await runZenpayPhase(context, scalingScenario, population)) });
    }
    await cluster.scale(own);
  };

  try {
    if (options.url) {
      const system = await attachToSystem({ ...options, url: options.url }, path.join(outDir, `bench-${stamp}-logs`));
      await withSystem(system, options, display, options.baselines, (context, population) => runScenarios(context, population, options.baselines));
    } else {
      for (const [index, profile] of options.profiles.entries()) {
        if (abort.signal.aborted) break;
        // direct-sql and api-direct use neither profile's Temporal: measured once, on the first.
        const baselines = index === 0 ? options.baselines : options.baselines.filter((baseline) => baseline === 'noop-workflow');
        log(`profile ${profile}: starting its system`);
        const system = profile === 'dev' ? await startOwnSystem(log) : await startOwnCluster({ ...clusterProfileShape, shards: options.shards }, log);
        await withSystem(system, options, display, baselines, async (context, population) => {
          await runScenarios(context, population, baselines);
          if (profile !== 'cluster') return;
          for (const dimension of options.scaling) if (dimension !== 'shards') await measureScale(context, population, dimension);
        });
      }
      // Shards are fixed when Temporal's schema is created: each count is a fresh cluster.
      if (options.scaling.includes('shards')) {
        for (const shards of scalePoints(options)) {
          if (abort.signal.aborted) break;
          const measured = measuredAt({ ...clusterProfileShape, shards });
          if (measured) {
            report.scaling.push({ dimension: 'shards', count: shards, phase: measured });
            continue;
          }
          log(`scaling shards = ${shards}: starting a fresh cluster`);
          const system = await startOwnCluster({ ...clusterProfileShape, shards }, log);
          await withSystem(system, options, display, [], async (context, population) => {
            report.scaling.push({ dimension: 'shards', count: shards, phase: await runZenpayPhase(context, scalingScenario, population) });
          });
        }
      }
    }
  } catch (error) {
    // What was measured before the failure is still worth a look: written, and the run still fails.
    if (report.scenarios.length > 0 || report.scaling.length > 0) {
      report.notes.push(`the run failed before its end: ${(error as Error).message}`);
      await writeResults(outDir, stamp, report, log);
    }
    throw error;
  }
  await writeResults(outDir, stamp, report, log);
}

const scalePoints = (options: BenchOptions) => [...options.scalePoints].sort((a, b) => a - b);
const sameShape = (a: ClusterShape | null, b: ClusterShape) => a !== null && a.apis === b.apis && a.workers === b.workers && a.shards === b.shards;

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (abort.signal.aborted) {
      console.error('[bench] stopped (Ctrl-C) before the results were written');
      process.exit(130);
    }
    console.error('[bench] failed:', error);
    process.exit(1);
  },
);
