// `npm run bench`: simulated clients sign up, get money, subscribe and pay through the public API of a
// system the bench starts (or one given by --url), against the direct-sql and api-direct baselines.
// Writes a Markdown table, the raw figures as JSON and a chart per scenario under --out (bench/results).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderChart } from './chart';
import { parseOptions, usage, type BenchOptions } from './options';
import { createProgressDisplay } from './progress';
import { machineInfo, runReport, type RunReport } from './report';
import { cleanUp, prepare, runScenario, type RunContext } from './run';
import { attachToSystem, startOwnSystem, type BenchSystem } from './system';

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

async function main(): Promise<void> {
  const options = readOptions();
  const display = createProgressDisplay(options.quiet);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const outDir = path.resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });

  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    display.log('stopping: finishing what is in flight (Ctrl-C again to quit at once)');
    abort.abort();
  });

  const system: BenchSystem = options.url
    ? await attachToSystem({ ...options, url: options.url }, path.join(outDir, `bench-${stamp}-logs`))
    : await startOwnSystem((message) => display.log(message));
  const context: RunContext = { options, system, display, signal: abort.signal };
  let population: Awaited<ReturnType<typeof prepare>> | null = null;
  let completed = false;
  try {
    population = await prepare(context);
    const report: RunReport = {
      startedAt: startedAt.toISOString(),
      machine: machineInfo(),
      system: { mode: options.url ? 'attached' : 'own', graphqlUrl: system.graphqlUrl },
      options: { ...options, databaseUrl: withoutPassword(options.databaseUrl) },
      notes: system.notes,
      scenarios: [],
    };
    for (const scenario of options.scenarios) {
      if (abort.signal.aborted) break;
      report.scenarios.push(await runScenario(context, scenario, population));
    }
    await writeResults(outDir, stamp, report, (message) => display.log(message));
    completed = true;
  } finally {
    display.log('stopping');
    await cleanUp(context, population);
    // A failed run keeps the system's data and logs for a look.
    await system.stop({ keepData: !completed });
    if (!completed) display.log(`logs kept in ${system.logDir}`);
  }
}

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
