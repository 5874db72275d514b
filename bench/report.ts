// The run's report as Markdown tables: figures per target, ZenPAY as ratios to the baselines, errors,
// each process's CPU and memory, memory over time for a soak, and the issue's targets checked.
import os from 'node:os';
import type { ScalingDimension } from './options';
import { describeShape, type PhaseResult, type ScenarioResult } from './run';
import type { BenchSystem, ClusterShape } from './system';
import { mebibytes, ratio, table } from './stats';

export interface RunReport {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string; platform: string };
  system: { mode: 'own' | 'attached'; graphqlUrl: string };
  options: Record<string, unknown>;
  notes: string[];
  /** The systems measured, in order (with --profile dev,cluster both). */
  profiles: Array<{ profile: BenchSystem['profile']; shape: ClusterShape | null }>;
  scenarios: ScenarioResult[];
  /** --scaling: ZenPAY's uniform transfers on the cluster with one dimension at each count. */
  scaling: ScalingPoint[];
}

export interface ScalingPoint {
  dimension: ScalingDimension;
  count: number;
  phase: PhaseResult;
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

const targetName = (name: string) => (name === 'zenpay' ? 'ZenPAY' : name);
/** A phase's column: its target, marked when it ran on the cluster profile (the dev profile's are as always). */
export const targetLabel = (phase: Pick<PhaseResult, 'target' | 'profile'>) => (phase.profile === 'cluster' ? `${targetName(phase.target)} · cluster` : targetName(phase.target));
/** A process's role: the cluster's api-1, api-2 are both api. */
const roleOf = (name: string) => name.replace(/-\d+$/, '');
const processOrder = ['postgres', 'temporal', 'worker', 'api', 'api-direct', 'noop-worker', 'bank-sim', 'bench client'];
const processRank = (name: string) => processOrder.indexOf(roleOf(name)) * 1000 + Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
/** Processes of the system under test: the bench client's own cost is kept out of what a transfer costs. */
const isSystemProcess = (name: string) => name !== 'bench client';
const errorTotal = (phase: PhaseResult) => Object.values(phase.errors).reduce((sum, entry) => sum + entry.count, 0);
/** Every process measured in any phase, in the report's order. */
const processNames = (result: ScenarioResult) =>
  [...new Set(result.phases.flatMap((phase) => phase.processes.map((metrics) => metrics.name)))].sort(
    (a, b) => processRank(a) - processRank(b),
  );
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
      targetLabel(phase),
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
  // direct-sql and api-direct run on one profile; Temporal's floor is compared on the same profile.
  const pairs = result.phases
    .filter((phase) => phase.target === 'zenpay')
    .flatMap((zenpay) =>
      result.phases
        .filter((baseline) => baseline.target !== 'zenpay' && (baseline.target !== 'noop-workflow' || baseline.profile === zenpay.profile))
        .map((baseline) => [zenpay, baseline] as const),
    );
  if (pairs.length === 0) return null;
  return table(
    ['ZenPAY', 'as a ratio to', 'throughput', 'p50 latency', 'p99 latency'],
    pairs.map(([zenpay, baseline]) => [
      targetLabel(zenpay),
      targetLabel(baseline),
      ratio(zenpay.throughputPerSecond, baseline.throughputPerSecond),
      ratio(zenpay.latencyMs.p50, baseline.latencyMs.p50, 1),
      ratio(zenpay.latencyMs.p99, baseline.latencyMs.p99, 1),
    ]),
  );
}

function errorsTable(result: ScenarioResult): string {
  const rows = result.phases.flatMap((phase) =>
    Object.entries(phase.errors).map(([code, entry]) => [targetLabel(phase), code, entry.count, entry.examples[0]?.slice(0, 80) ?? '']),
  );
  return rows.length === 0 ? 'No errors.' : table(['target', 'code', 'count', 'example'], rows);
}

function lockingLine(result: ScenarioResult): string {
  return result.phases
    .map((phase) => {
      const reached = Object.entries(phase.lockingErrors);
      const seen = reached.length === 0 ? 'none reached a client' : reached.map(([code, count]) => `${code} ×${count}`).join(', ');
      return `- ${targetLabel(phase)}: deadlocks, serialization failures, timeouts: ${seen}; deadlocks detected by PostgreSQL: ${phase.databaseDeadlocks}`;
    })
    .join('\n');
}

function processesTable(result: ScenarioResult): string {
  const names = processNames(result);
  return table(
    ['process (CPU cores used / peak MiB)', ...result.phases.map((phase) => targetLabel(phase))],
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

/** CPU milliseconds per completed operation, by process, for each target: what one operation costs. */
function cpuPerOperationTable(result: ScenarioResult): string {
  const names = processNames(result);
  const perOperation = (phase: PhaseResult, metrics: PhaseResult['processes'][number]) =>
    phase.throughputPerSecond > 0 ? (metrics.cpuCores * 1000) / phase.throughputPerSecond : Number.NaN;
  return table(
    ['CPU ms per completed operation', ...result.phases.map((phase) => targetLabel(phase))],
    [
      ...names.map((name) => [
        name,
        ...result.phases.map((phase) => {
          const metrics = phase.processes.find((candidate) => candidate.name === name);
          return metrics ? perOperation(phase, metrics).toFixed(2) : '-';
        }),
      ]),
      ['**system (all but the bench client)**', ...result.phases.map((phase) => systemCpuMsPerOperation(phase).toFixed(2))],
    ],
  );
}

/** CPU ms of the system's processes per completed operation (the bench client's own cost left out). */
export function systemCpuMsPerOperation(phase: PhaseResult): number {
  if (phase.throughputPerSecond <= 0) return Number.NaN;
  // Each target is measured with only the processes it uses busy: the others idle (a few polls).
  const cores = phase.processes.filter((metrics) => isSystemProcess(metrics.name)).reduce((sum, metrics) => sum + metrics.cpuCores, 0);
  return (cores * 1000) / phase.throughputPerSecond;
}

/** Each target's SQL round trips per completed operation, and the statements that cost PostgreSQL most. */
function statementsReport(result: ScenarioResult): string | null {
  const profiled = result.phases.filter((phase) => phase.statements);
  if (profiled.length === 0) return null;
  const parts = [
    table(
      ['SQL per operation sent (pg_stat_statements)', ...profiled.map((phase) => targetLabel(phase))],
      [
        ['round trips', ...profiled.map((phase) => phase.statements!.roundTripsPerOperation)],
        ['execution ms in PostgreSQL', ...profiled.map((phase) => phase.statements!.executionMsPerOperation.toFixed(2))],
      ],
    ),
  ];
  for (const phase of profiled.filter((candidate) => candidate.target !== 'direct-sql')) {
    parts.push(
      '',
      `${targetLabel(phase)}: statements by execution time per operation:`,
      '',
      table(
        ['calls / op', 'mean ms', 'ms / op', 'statement'],
        phase.statements!.top.map((figure) => [figure.callsPerOperation.toFixed(2), figure.meanMs.toFixed(3), figure.msPerOperation.toFixed(3), figure.query.slice(0, 90).replace(/\|/g, '\\|')]),
      ),
    );
  }
  return parts.join('\n');
}

export function scenarioReport(result: ScenarioResult): string {
  const parts = [`### ${result.scenario}`, '', loadLabel(result) + '.', '', figuresTable(result)];
  const ratios = ratiosTable(result);
  if (ratios) parts.push('', ratios);
  for (const skipped of result.skipped) parts.push('', `(${skipped.target} not run: ${skipped.reason}.)`);
  parts.push('', 'Errors by code:', '', errorsTable(result));
  parts.push('', 'Deadlocks, serialization failures and timeouts:', '', lockingLine(result));
  parts.push('', 'CPU and peak memory of each process during the measured window (PostgreSQL: all its processes, PSS):', '', processesTable(result));
  parts.push('', 'CPU per completed operation (cores used × 1000 / completed per second; idle processes of other targets included):', '', cpuPerOperationTable(result));
  const statements = statementsReport(result);
  if (statements) parts.push('', statements);
  const zenpay = result.phases.find((phase) => phase.target === 'zenpay');
  if (result.scenario === 'soak' && zenpay) parts.push('', 'ZenPAY memory over the soak:', '', memoryOverTimeTable(zenpay));
  return parts.join('\n');
}

/** The performance targets (issue 14), checked against whatever this run measured on one profile. */
export function targetsReport(scenarios: readonly ScenarioResult[], profile: BenchSystem['profile']): string {
  const lines: string[] = [];
  // direct-sql and api-direct ran on the first profile only: the same database either way.
  const phaseOf = (result: ScenarioResult | undefined, target: string) =>
    result?.phases.find((phase) => phase.target === target && (phase.profile === profile || target === 'direct-sql' || target === 'api-direct'));
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const uniformMax = scenarios.find((result) => result.scenario === 'uniform' && result.rate === 'max');
  const uniformRate = scenarios.find((result) => result.scenario === 'uniform' && result.rate !== 'max');
  const hot = scenarios.find((result) => result.scenario === 'hot-account');
  const zenpay = phaseOf(uniformMax, 'zenpay');
  const floor = phaseOf(uniformMax, 'noop-workflow');
  if (zenpay) {
    lines.push(`- ZenPAY uniform ≥ 100 completed/s: ${zenpay.throughputPerSecond.toFixed(1)}/s, ${verdict(zenpay.throughputPerSecond >= 100)}`);
    if (floor) {
      const share = zenpay.throughputPerSecond / floor.throughputPerSecond;
      lines.push(
        `- ZenPAY uniform ≥ 0.8× Temporal's floor (noop-workflow, same run): ${zenpay.throughputPerSecond.toFixed(1)}/s vs ${floor.throughputPerSecond.toFixed(1)}/s ` +
          `(${ratio(zenpay.throughputPerSecond, floor.throughputPerSecond)}), ${verdict(share >= 0.8)}`,
      );
    }
    const cpu = systemCpuMsPerOperation(zenpay);
    lines.push(`- ≤ 15 ms of CPU per transfer over all processes (bench client excluded): ${cpu.toFixed(1)} ms, ${verdict(cpu <= 15)}`);
  }
  const rateZenpay = phaseOf(uniformRate, 'zenpay');
  if (rateZenpay) {
    lines.push(`- uniform p99 ≤ 300 ms at ${uniformRate!.rate}/s offered: p99 ${rateZenpay.latencyMs.p99.toFixed(1)} ms, ${verdict(rateZenpay.latencyMs.p99 <= 300)}`);
  }
  const apiDirect = phaseOf(uniformMax, 'api-direct');
  const direct = phaseOf(uniformMax, 'direct-sql');
  if (apiDirect && direct) {
    const share = apiDirect.throughputPerSecond / direct.throughputPerSecond;
    lines.push(
      `- api-direct ≥ 0.4× direct-sql: ${apiDirect.throughputPerSecond.toFixed(1)}/s vs ${direct.throughputPerSecond.toFixed(1)}/s ` +
        `(${ratio(apiDirect.throughputPerSecond, direct.throughputPerSecond)}), ${verdict(share >= 0.4)}; the API path costs ${systemCpuMsPerOperation(apiDirect).toFixed(1)} ms of CPU per transfer`,
    );
  }
  const hotZenpay = phaseOf(hot, 'zenpay');
  if (hotZenpay) {
    const clean = Object.keys(hotZenpay.lockingErrors).length === 0;
    lines.push(`- hot-account: no deadlock, serialization failure or timeout reached a client: ${verdict(clean)}`);
    if (zenpay) {
      lines.push(
        `- hot-account ≥ 0.9× uniform: ${hotZenpay.throughputPerSecond.toFixed(1)}/s vs ${zenpay.throughputPerSecond.toFixed(1)}/s ` +
          `(${ratio(hotZenpay.throughputPerSecond, zenpay.throughputPerSecond)}), ${verdict(hotZenpay.throughputPerSecond >= 0.9 * zenpay.throughputPerSecond)}`,
      );
    }
  }
  return lines.length === 0 ? '' : [`### Targets (${profile} profile)`, '', ...lines].join('\n');
}

/** CPU cores a role used in a phase: its processes summed (api-1 + api-2 ...). */
function roleCores(phase: PhaseResult, role: string): number {
  return phase.processes.filter((metrics) => roleOf(metrics.name) === role).reduce((sum, metrics) => sum + metrics.cpuCores, 0);
}

const costRoles = ['api', 'worker', 'temporal', 'postgres', 'bank-sim'] as const;
const roleTitles: Record<(typeof costRoles)[number], string> = { api: 'API', worker: 'worker', temporal: 'Temporal', postgres: 'PostgreSQL', 'bank-sim': 'bank sim' };
const msPerOperation = (phase: PhaseResult, cores: number) => (phase.throughputPerSecond > 0 ? (cores * 1000) / phase.throughputPerSecond : Number.NaN);

/** ZenPAY on each profile, one row each: throughput, latency, the floor there, and CPU per transfer by role. */
function profilesTable(scenarios: readonly ScenarioResult[]): string | null {
  const rows = scenarios.flatMap((result) =>
    result.phases
      .filter((phase) => phase.target === 'zenpay')
      .map((phase) => {
        const floor = result.phases.find((candidate) => candidate.target === 'noop-workflow' && candidate.profile === phase.profile);
        return [
          `${result.scenario}, ${phase.profile}${phase.shape ? ` (${describeShape(phase.shape)})` : ''}`,
          phase.throughputPerSecond,
          phase.latencyMs.p50,
          phase.latencyMs.p99,
          floor ? floor.throughputPerSecond.toFixed(1) : '-',
          floor ? ratio(phase.throughputPerSecond, floor.throughputPerSecond) : '-',
          ...costRoles.map((role) => msPerOperation(phase, roleCores(phase, role)).toFixed(1)),
          systemCpuMsPerOperation(phase).toFixed(1),
        ];
      }),
  );
  if (new Set(scenarios.flatMap((result) => result.phases.map((phase) => phase.profile))).size < 2) return null;
  return table(
    ['ZenPAY on', 'completed/s', 'p50 ms', 'p99 ms', 'floor/s', 'of floor', ...costRoles.map((role) => `${roleTitles[role]} CPU ms`), 'total CPU ms'],
    rows,
  );
}

/** The scaling series: one table per dimension, each count's throughput, speed-up over the smallest, and where the CPU went. */
function scalingReport(points: readonly ScalingPoint[]): string | null {
  if (points.length === 0) return null;
  const parts = ['### Scaling the cluster profile', '', 'ZenPAY, uniform transfers, the same load at each point; one dimension varied, the others at the profile\'s own.'];
  for (const dimension of [...new Set(points.map((point) => point.dimension))]) {
    const series = points.filter((point) => point.dimension === dimension);
    const first = series[0]!.phase.throughputPerSecond;
    parts.push(
      '',
      table(
        [dimension, 'shape', 'completed/s', 'vs smallest', 'p50 ms', 'p99 ms', ...costRoles.map((role) => `${roleTitles[role]} cores`), 'machine busy', 'CPU ms / transfer'],
        series.map(({ count, phase }) => [
          count,
          phase.shape ? describeShape(phase.shape) : '-',
          phase.throughputPerSecond,
          ratio(phase.throughputPerSecond, first),
          phase.latencyMs.p50,
          phase.latencyMs.p99,
          ...costRoles.map((role) => roleCores(phase, role).toFixed(2)),
          `${phase.machine.busyCores.toFixed(2)} of ${os.cpus().length}`,
          systemCpuMsPerOperation(phase).toFixed(1),
        ]),
      ),
    );
  }
  return parts.join('\n');
}

/** Throughputs the on-paper table sizes a deployment for. */
const paperRates = [100, 500, 1_000];

/**
 * On paper, from the cluster profile's measured CPU per transfer by role: the cores each role needs at a given
 * rate, were every added process as efficient as these (it is not: see the scaling series for what was measured).
 */
function onPaperTable(scenarios: readonly ScenarioResult[]): string | null {
  const phase = scenarios.find((result) => result.scenario === 'uniform')?.phases.find((candidate) => candidate.target === 'zenpay' && candidate.profile === 'cluster');
  if (!phase || phase.throughputPerSecond <= 0) return null;
  const perRole = costRoles.map((role) => [role, msPerOperation(phase, roleCores(phase, role))] as const);
  return [
    '### On paper: cores for a given rate',
    '',
    `From the cluster profile's uniform run (${phase.throughputPerSecond.toFixed(1)}/s): CPU ms per transfer by role × rate / 1000, with no allowance for headroom or coordination.`,
    '',
    table(
      ['role', 'CPU ms / transfer', ...paperRates.map((rate) => `cores at ${rate}/s`)],
      [
        ...perRole.map(([role, ms]) => [roleTitles[role], ms.toFixed(1), ...paperRates.map((rate) => ((ms * rate) / 1000).toFixed(1))]),
        ['**all**', systemCpuMsPerOperation(phase).toFixed(1), ...paperRates.map((rate) => ((systemCpuMsPerOperation(phase) * rate) / 1000).toFixed(1))],
      ],
    ),
  ].join('\n');
}

export function runReport(report: RunReport): string {
  const { machine } = report;
  const systems = report.profiles.map((entry) => (entry.shape ? `the cluster profile (${describeShape(entry.shape)})` : entry.profile === 'dev' ? 'the dev profile' : 'an attached system'));
  const header = [
    `## ZenPAY benchmark, ${report.startedAt}`,
    '',
    `${machine.cpus} × ${machine.cpuModel}, ${mebibytes(machine.memoryBytes)} MiB, Node.js ${machine.node}, ${machine.platform}; ` +
      `${report.system.mode === 'own' ? `systems the bench started, one after the other: ${systems.join(', ')}` : `the running system at ${report.system.graphqlUrl}`}, everything on this machine.`,
    'Latency: from sending the mutation (from when it was due, at a fixed rate) to its COMPLETED event on the subscription; direct-sql: to COMMIT.',
  ];
  if (report.notes.length > 0) header.push('', ...report.notes.map((note) => `- ${note}`));
  const profiles = profilesTable(report.scenarios);
  const sections = [header.join('\n')];
  if (profiles) sections.push(['### Profiles side by side', '', 'CPU ms per completed transfer by role (every process of the role summed; the cluster\'s PostgreSQL holds Temporal\'s databases too).', '', profiles].join('\n'));
  sections.push(...report.scenarios.map(scenarioReport));
  const scaling = scalingReport(report.scaling);
  if (scaling) sections.push(scaling);
  const paper = onPaperTable(report.scenarios);
  if (paper) sections.push(paper);
  for (const entry of report.profiles) {
    const targets = targetsReport(report.scenarios, entry.profile);
    if (targets) sections.push(targets);
  }
  return sections.join('\n\n') + '\n';
}
