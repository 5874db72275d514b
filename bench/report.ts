// The run's report as Markdown tables: figures per target, ZenPAY as ratios to the baselines, errors,
// each process's CPU and memory, memory over time for a soak, and the issue's targets checked.
import os from 'node:os';
import type { PhaseResult, ScenarioResult } from './run';
import { mebibytes, ratio, table } from './stats';

export interface RunReport {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string; platform: string };
  system: { mode: 'own' | 'attached'; graphqlUrl: string };
  options: Record<string, unknown>;
  notes: string[];
  scenarios: ScenarioResult[];
}

export function machineInfo(): RunReport['machine'] {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

const targetLabel = (name: string) => (name === 'zenpay' ? 'ZenPAY' : name);
const processOrder = ['postgres', 'temporal', 'worker', 'api', 'api-direct', 'bank-sim', 'bench client'];
const errorTotal = (phase: PhaseResult) => Object.values(phase.errors).reduce((sum, entry) => sum + entry.count, 0);
/** PostgreSQL's backends share its buffers: their PSS adds up right, their RSS would count them again and again. */
const memoryOf = (metrics: PhaseResult['processes'][number]) => (metrics.name === 'postgres' ? metrics.peakPssBytes : metrics.peakRssBytes);

function loadLabel(result: ScenarioResult): string {
  const load = result.rate === 'max' ? `as fast as possible (closed loop, ${result.concurrency} clients)` : `${result.rate}/s offered (open loop, at most ${result.concurrency} in flight)`;
  return `${result.durationSeconds} s measured after ${result.warmupSeconds} s warm-up, ${load}, ${result.users} users`;
}

function figuresTable(result: ScenarioResult): string {
  return table(
    ['target', 'completed/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'sent', 'completed', 'errors'],
    result.phases.map((phase) => [
      targetLabel(phase.target),
      phase.throughputPerSecond,
      phase.latencyMs.p50,
      phase.latencyMs.p90,
      phase.latencyMs.p99,
      phase.latencyMs.max,
      phase.sent,
      phase.completed,
      errorTotal(phase),
    ]),
  );
}

function ratiosTable(result: ScenarioResult): string | null {
  const zenpay = result.phases.find((phase) => phase.target === 'zenpay');
  const baselines = result.phases.filter((phase) => phase.target !== 'zenpay');
  if (!zenpay || baselines.length === 0) return null;
  return table(
    ['ZenPAY as a ratio to', 'throughput', 'p50 latency', 'p99 latency'],
    baselines.map((baseline) => [
      baseline.target,
      ratio(zenpay.throughputPerSecond, baseline.throughputPerSecond),
      ratio(zenpay.latencyMs.p50, baseline.latencyMs.p50, 1),
      ratio(zenpay.latencyMs.p99, baseline.latencyMs.p99, 1),
    ]),
  );
}

function errorsTable(result: ScenarioResult): string {
  const rows = result.phases.flatMap((phase) =>
    Object.entries(phase.errors).map(([code, entry]) => [targetLabel(phase.target), code, entry.count, entry.examples[0]?.slice(0, 80) ?? '']),
  );
  return rows.length === 0 ? 'No errors.' : table(['target', 'code', 'count', 'example'], rows);
}

function lockingLine(result: ScenarioResult): string {
  return result.phases
    .map((phase) => {
      const reached = Object.entries(phase.lockingErrors);
      const seen = reached.length === 0 ? 'none reached a client' : reached.map(([code, count]) => `${code} ×${count}`).join(', ');
      return `- ${targetLabel(phase.target)}: deadlocks, serialization failures, timeouts: ${seen}; deadlocks detected by PostgreSQL: ${phase.databaseDeadlocks}`;
    })
    .join('\n');
}

function processesTable(result: ScenarioResult): string {
  const names = [...new Set(result.phases.flatMap((phase) => phase.processes.map((metrics) => metrics.name)))].sort(
    (a, b) => processOrder.indexOf(a) - processOrder.indexOf(b),
  );
  return table(
    ['process (CPU cores used / peak MiB)', ...result.phases.map((phase) => targetLabel(phase.target))],
    [
      ...names.map((name) => [
        name,
        ...result.phases.map((phase) => {
          const metrics = phase.processes.find((candidate) => candidate.name === name);
          return metrics ? `${metrics.cpuCores.toFixed(2)} / ${mebibytes(memoryOf(metrics))}` : '-';
        }),
      ]),
      // A busy neighbour (another test run, a build) skews every figure: shown, not hidden.
      ['other processes on the machine', ...result.phases.map((phase) => `${phase.machine.otherCores.toFixed(2)} / -`)],
      ['whole machine busy', ...result.phases.map((phase) => `${phase.machine.busyCores.toFixed(2)} / -`)],
    ],
  );
}

/** Memory of each process at fifths of the window: a leak shows as a rising row. */
function memoryOverTimeTable(phase: PhaseResult): string {
  const marks = [0, 0.25, 0.5, 0.75, 1];
  return table(
    ['process (MiB)', ...marks.map((mark) => `${Math.round(mark * 100)}%`), 'growth'],
    phase.processes.map((metrics) => {
      const at = (mark: number) => metrics.samples[Math.min(metrics.samples.length - 1, Math.round(mark * (metrics.samples.length - 1)))]!;
      const bytes = (sample: PhaseResult['processes'][number]['samples'][number]) => (metrics.name === 'postgres' ? sample.pssBytes : sample.rssBytes);
      const values = marks.map((mark) => mebibytes(bytes(at(mark))));
      return [metrics.name, ...values, `${values.at(-1)! - values[0]! >= 0 ? '+' : ''}${values.at(-1)! - values[0]!}`];
    }),
  );
}

export function scenarioReport(result: ScenarioResult): string {
  const parts = [`### ${result.scenario}`, '', loadLabel(result) + '.', '', figuresTable(result)];
  const ratios = ratiosTable(result);
  if (ratios) parts.push('', ratios);
  for (const skipped of result.skipped) parts.push('', `(${skipped.target} not run: ${skipped.reason}.)`);
  parts.push('', 'Errors by code:', '', errorsTable(result));
  parts.push('', 'Deadlocks, serialization failures and timeouts:', '', lockingLine(result));
  parts.push('', 'CPU and peak memory of each process during the measured window (PostgreSQL: all its processes, PSS):', '', processesTable(result));
  const zenpay = result.phases.find((phase) => phase.target === 'zenpay');
  if (result.scenario === 'soak' && zenpay) parts.push('', 'ZenPAY memory over the soak:', '', memoryOverTimeTable(zenpay));
  return parts.join('\n');
}

/** The issue's targets, checked against whatever this run measured. */
export function targetsReport(scenarios: readonly ScenarioResult[]): string {
  const lines: string[] = [];
  const zenpayOf = (result: ScenarioResult | undefined) => result?.phases.find((phase) => phase.target === 'zenpay');
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const uniformMax = scenarios.find((result) => result.scenario === 'uniform' && result.rate === 'max');
  const uniformRate = scenarios.find((result) => result.scenario === 'uniform' && result.rate !== 'max');
  const hot = scenarios.find((result) => result.scenario === 'hot-account');
  for (const uniform of scenarios.filter((result) => result.scenario === 'uniform')) {
    const zenpay = zenpayOf(uniform)!;
    const direct = uniform.phases.find((phase) => phase.target === 'direct-sql');
    if (zenpay && direct) lines.push(`- ZenPAY uniform throughput (${uniform.rate === 'max' ? 'max' : `${uniform.rate}/s`}) / direct-sql: ${ratio(zenpay.throughputPerSecond, direct.throughputPerSecond)}`);
  }
  const maxZenpay = zenpayOf(uniformMax);
  if (maxZenpay) {
    lines.push(`- uniform ≥ 300 completed/s sustained ${uniformMax!.durationSeconds} s: ${maxZenpay.throughputPerSecond.toFixed(1)}/s, ${verdict(maxZenpay.throughputPerSecond >= 300)}`);
  }
  const rateZenpay = zenpayOf(uniformRate);
  if (rateZenpay) {
    lines.push(`- uniform p99 < 300 ms at ${uniformRate!.rate}/s offered: p99 ${rateZenpay.latencyMs.p99.toFixed(1)} ms, ${verdict(rateZenpay.latencyMs.p99 < 300)}`);
  }
  const hotZenpay = zenpayOf(hot);
  if (hotZenpay) {
    const clean = Object.keys(hotZenpay.lockingErrors).length === 0;
    lines.push(`- hot-account: no deadlock, serialization failure or timeout reached a client: ${verdict(clean)}`);
    if (maxZenpay) {
      lines.push(
        `- hot-account ≥ half of uniform's throughput: ${hotZenpay.throughputPerSecond.toFixed(1)}/s vs ${maxZenpay.throughputPerSecond.toFixed(1)}/s ` +
          `(${ratio(hotZenpay.throughputPerSecond, maxZenpay.throughputPerSecond)}), ${verdict(hotZenpay.throughputPerSecond >= maxZenpay.throughputPerSecond / 2)}`,
      );
    }
  }
  return lines.length === 0 ? '' : ['### Targets', '', ...lines].join('\n');
}

export function runReport(report: RunReport): string {
  const { machine } = report;
  const header = [
    `## ZenPAY benchmark, ${report.startedAt}`,
    '',
    `${machine.cpus} × ${machine.cpuModel}, ${mebibytes(machine.memoryBytes)} MiB, Node.js ${machine.node}, ${machine.platform}; ` +
      `${report.system.mode === 'own' ? 'a system the bench started' : `the running system at ${report.system.graphqlUrl}`}, everything on this machine.`,
    'Latency: from sending the mutation (from when it was due, at a fixed rate) to its COMPLETED event on the subscription; direct-sql: to COMMIT.',
  ];
  if (report.notes.length > 0) header.push('', ...report.notes.map((note) => `- ${note}`));
  const targets = targetsReport(report.scenarios);
  return [header.join('\n'), ...report.scenarios.map(scenarioReport), ...(targets ? [targets] : [])].join('\n\n') + '\n';
}
