// One benchmark run: the users, then each scenario against each target in turn (baselines first,
// ZenPAY last) on the same database and machine at the same concurrency, measured the same way.
import { randomInt } from 'node:crypto';
import { developmentBanks } from '../common/development';
import type { Pool } from '../db/pool';
import { createDirectLedger, createDirectPool, dropDirectLedger, type DirectAccounts } from './direct-sql';
import { runLoad, type ErrorCount, type LoadRecord } from './load';
import { scenarioSettings, type BaselineName, type BenchOptions, type ScenarioName, type TargetName } from './options';
import { ProcessSampler, type ProcessMetrics } from './processes';
import { readStatements, resetStatements, type StatementProfile } from './statements';
import type { ProgressDisplay } from './progress';
import { percentile, summarize, type LatencySummary } from './stats';
import type { BenchSystem, ClusterShape } from './system';
import { createApiTarget, createDirectTarget, createNoopWorkflowTarget, type Operation, type Target } from './targets';
import { fundUsers, signUpUsers, type BenchUser } from './users';

export interface PhaseResult {
  target: TargetName;
  /** The system it ran on (bench/system.ts), and the cluster profile's shape at the time. */
  profile: BenchSystem['profile'];
  shape: ClusterShape | null;
  /** Completed operations per second of the measured window. */
  throughputPerSecond: number;
  sent: number;
  completed: number;
  completedInWindow: number;
  /** Due time (send time in the closed loop) to the final event reaching the client. */
  latencyMs: LatencySummary;
  latencySampled: boolean;
  /** Mutation sent to its answer (API targets only). */
  responseMs: LatencySummary | null;
  answeredPending: number;
  errors: Record<string, ErrorCount>;
  /** Deadlocks, serialization failures and timeouts that reached the client, by code. */
  lockingErrors: Record<string, number>;
  /** Deadlocks PostgreSQL detected in the database during the phase, whether or not a client saw them. */
  databaseDeadlocks: number;
  timeline: Array<{ second: number; completed: number; p50Ms: number; p99Ms: number }>;
  processes: ProcessMetrics[];
  /** Cores the whole machine was busy, and those used by processes outside the system and the bench. */
  machine: { busyCores: number; otherCores: number };
  latenciesMs: number[];
  /** SQL round trips and their execution time per completed operation (pg_stat_statements); null when unavailable. */
  statements: StatementProfile | null;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  durationSeconds: number;
  warmupSeconds: number;
  rate: number | 'max';
  concurrency: number;
  users: number;
  phases: PhaseResult[];
  skipped: Array<{ target: TargetName; reason: string }>;
}

export interface RunContext {
  options: BenchOptions;
  system: BenchSystem;
  display: ProgressDisplay;
  signal: AbortSignal;
}

const settleMs = 1_500;
const latencyExportMax = 200_000;
const transferAmountMinorMin = 100;
const transferAmountMinorMax = 10_000;
const lockingErrorPattern = /DEADLOCK|SERIALIZATION|LOCK_NOT_AVAILABLE|TIMEOUT|QUERY_CANCELED/;
const lockingMessagePattern = /deadlock|could not serialize|lock timeout|timed out|timeout/i;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const randomAmount = () => BigInt(randomInt(transferAmountMinorMin, transferAmountMinorMax + 1));
const pick = <T>(items: readonly T[]): T => items[randomInt(0, items.length)]!;

export interface Population {
  users: BenchUser[];
  merchant: BenchUser;
  direct: DirectAccounts | null;
  directPool: Pool | null;
}

/** Users signed up and funded on context.system; direct-sql's own ledger when that baseline will run. */
export async function prepare(context: RunContext, baselines: readonly BaselineName[] = context.options.baselines): Promise<Population> {
  const { options, system, display } = context;
  const count = options.users + 1;
  const signUpStartMs = performance.now();
  const signUp = display.step(`signing up ${count} users through the API`, count, 'count');
  const everyone = await signUpUsers(system.graphqlUrl, system.smsUrl, count, context.signal, (done) => signUp.update(done));
  signUp.finish(`done in ${((performance.now() - signUpStartMs) / 1000).toFixed(1)} s`);
  display.log('funding the wallets through the ledger');
  await fundUsers(system.pool, everyone);
  const users = everyone.slice(0, options.users);
  const merchant = everyone.at(-1)!;
  let direct: DirectAccounts | null = null;
  let directPool: Pool | null = null;
  if (baselines.includes('direct-sql')) {
    direct = await createDirectLedger(system.pool, options.users, developmentBanks);
    directPool = createDirectPool(system.databaseUrl, options.concurrency);
  }
  return { users, merchant, direct, directPool };
}

export async function cleanUp(context: RunContext, population: Population | null): Promise<void> {
  await population?.directPool?.end();
  if (population?.direct) await dropDirectLedger(context.system.pool).catch(() => {});
}

function operationsFor(scenario: ScenarioName, population: Population): () => Operation {
  const { users, merchant } = population;
  switch (scenario) {
    case 'uniform':
    case 'soak':
      return () => {
        const from = randomInt(0, users.length);
        // Any other user: a draw from the remaining n-1, shifted past the sender.
        const other = randomInt(0, users.length - 1);
        return { kind: 'transfer', from: users[from]!, to: users[other >= from ? other + 1 : other]!, amountMinor: randomAmount() };
      };
    case 'hot-account':
      return () => ({ kind: 'transfer', from: pick(users), to: merchant, amountMinor: randomAmount() });
    case 'on-ramp':
      return () => ({ kind: 'on-ramp', user: pick(users), bank: pick(developmentBanks), amountMinor: randomAmount() });
  }
}

async function databaseDeadlocks(pool: Pool): Promise<number> {
  await pool.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await pool.query<{ deadlocks: bigint }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
  return Number(rows[0]?.deadlocks ?? 0n);
}

/** Sets the bank simulator's control fields; returns what they were, to put them back. */
async function controlBank(bankUrl: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const before = (await (await fetch(`${bankUrl}/v1/_control`)).json()) as Record<string, unknown>;
  const response = await fetch(`${bankUrl}/v1/_control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  if (!response.ok) throw new Error(`bank simulator control answered ${response.status}: ${await response.text()}`);
  return Object.fromEntries(Object.keys(fields).map((key) => [key, before[key] ?? null]));
}

async function openTarget(context: RunContext, name: TargetName, population: Population, participants: BenchUser[]): Promise<Target> {
  const socketsMax = context.options.concurrency;
  if (name === 'direct-sql') {
    const direct = population.direct!;
    const accounts = new Map(population.users.map((user, index) => [user.id, direct.walletIds[index]!]));
    accounts.set(population.merchant.id, direct.merchantId);
    return createDirectTarget(
      population.directPool!,
      (user) => accounts.get(user.id)!,
      (bank) => direct.clearingIds.get(bank)!,
    );
  }
  if (name === 'noop-workflow') {
    const { taskQueue, temporalAddress } = await context.system.noopWorker();
    return createNoopWorkflowTarget(temporalAddress, taskQueue, process.env.API_EAGER_START === 'true');
  }
  const url = name === 'zenpay' ? context.system.graphqlUrl : await context.system.apiDirectUrl();
  return createApiTarget(name, url, participants, socketsMax);
}

/** One scenario against each baseline (options.baselines unless given) and then ZenPAY, on context.system. */
export async function runScenario(
  context: RunContext,
  scenario: ScenarioName,
  population: Population,
  baselines: readonly BaselineName[] = context.options.baselines,
): Promise<ScenarioResult> {
  const { options, system } = context;
  const settings = scenarioSettings(options, scenario);
  const result: ScenarioResult = {
    scenario,
    ...settings,
    warmupSeconds: options.warmupSeconds,
    concurrency: options.concurrency,
    users: options.users,
    phases: [],
    skipped: [],
  };
  const targets: TargetName[] = [];
  for (const baseline of baselines) {
    // The inline execution covers sendMoney only: an on-ramp always needs its workflow and the bank.
    if (baseline === 'api-direct' && scenario === 'on-ramp') {
      result.skipped.push({ target: baseline, reason: 'the API has no inline on-ramp (it needs the bank and a workflow)' });
    } else if (baseline === 'noop-workflow' && scenario === 'on-ramp') {
      result.skipped.push({ target: baseline, reason: 'the floor is measured against transfers (an on-ramp waits for a bank)' });
    } else targets.push(baseline);
  }
  targets.push('zenpay');
  const participants = scenario === 'hot-account' ? [...population.users, population.merchant] : population.users;
  let restoreBank: Record<string, unknown> | null = null;
  if (scenario === 'on-ramp') {
    if (!system.bankUrl) throw new Error('on-ramp needs the bank simulator (--bank-url)');
    restoreBank = await controlBank(system.bankUrl, { autoApprovePaymentsMs: options.approveDelayMs });
  }
  try {
    for (const name of targets) {
      if (context.signal.aborted) break;
      result.phases.push(await runPhase(context, scenario, name, population, participants, settings));
    }
  } finally {
    if (restoreBank && system.bankUrl) await controlBank(system.bankUrl, restoreBank).catch(() => {});
  }
  return result;
}

/** ZenPAY alone on one scenario (the scaling series: the same load on another shape of the cluster). */
export async function runZenpayPhase(context: RunContext, scenario: ScenarioName, population: Population): Promise<PhaseResult> {
  const participants = scenario === 'hot-account' ? [...population.users, population.merchant] : population.users;
  return runPhase(context, scenario, 'zenpay', population, participants, scenarioSettings(context.options, scenario));
}

async function runPhase(
  context: RunContext,
  scenario: ScenarioName,
  name: TargetName,
  population: Population,
  participants: BenchUser[],
  settings: { durationSeconds: number; rate: number | 'max' },
): Promise<PhaseResult> {
  const { options, system, display } = context;
  display.log(`${scenario} / ${name}: connecting ${name === 'direct-sql' ? 'to PostgreSQL' : name === 'noop-workflow' ? 'to Temporal' : `${participants.length} subscribers`}`);
  const target = await openTarget(context, name, population, participants);
  try {
    await sleep(settleMs);
    const deadlocksBefore = await databaseDeadlocks(system.pool);
    const counting = await resetStatements(system.pool);
    const sampler = new ProcessSampler(system.processGroups());
    const where = system.profile === 'cluster' ? ` on the cluster (${describeShape(system.cluster!.shape())})` : system.profile === 'dev' ? ' on the dev profile' : '';
    const label = `${scenario} / ${name}${where} (${settings.rate === 'max' ? `max, ${options.concurrency} clients` : `${settings.rate}/s offered`})`;
    const bar = display.step(label, settings.durationSeconds, 'load');
    let processes: ProcessMetrics[] = [];
    const windowStart = setTimeout(() => sampler.start(), options.warmupSeconds * 1000);
    const windowEnd = setTimeout(() => (processes = sampler.stop()), (options.warmupSeconds + settings.durationSeconds) * 1000);
    let record: LoadRecord;
    try {
      record = await runLoad(
        {
          rate: settings.rate,
          concurrency: options.concurrency,
          warmupMs: options.warmupSeconds * 1000,
          durationMs: settings.durationSeconds * 1000,
          completionTimeoutMs: options.completionTimeoutMs,
          signal: context.signal,
        },
        target,
        operationsFor(scenario, population),
        (progress) =>
          bar.update(Math.floor(progress.elapsedMs / 1000), {
            completed: progress.completed,
            recent: progress.recentPerSecond,
            inFlight: progress.inFlight,
            errors: progress.errors,
          }),
      );
    } finally {
      clearTimeout(windowStart);
      clearTimeout(windowEnd);
    }
    // An aborted run may end before the window did: take the figures so far.
    if (processes.length === 0) processes = sampler.stop();
    await sleep(settleMs);
    // Per operation sent: each one sent makes its round trips, whether or not it completed inside the window.
    const statements = counting ? await readStatements(system.pool, record.sent) : null;
    const deadlocks = (await databaseDeadlocks(system.pool)) - deadlocksBefore;
    const phase = {
      ...phaseResult(name, record, processes, deadlocks, target.backgroundErrors, sampler.machine),
      profile: system.profile,
      shape: system.cluster?.shape() ?? null,
      statements,
    };
    bar.finish(
      `${phase.throughputPerSecond.toFixed(1)} completed/s, p50 ${phase.latencyMs.p50.toFixed(1)} ms, p99 ${phase.latencyMs.p99.toFixed(1)} ms, ` +
        `${Object.values(phase.errors).reduce((sum, entry) => sum + entry.count, 0)} errors`,
    );
    return phase;
  } finally {
    await target.close();
  }
}

export const describeShape = (shape: ClusterShape) =>
  `${shape.apis} API, ${shape.workers} worker${shape.workers === 1 ? '' : 's'}, ${shape.shards} shard${shape.shards === 1 ? '' : 's'}`;

function phaseResult(
  target: TargetName,
  record: LoadRecord,
  processes: ProcessMetrics[],
  databaseDeadlocks: number,
  backgroundErrors: Map<string, number>,
  machine: PhaseResult['machine'],
): Omit<PhaseResult, 'statements' | 'profile' | 'shape'> {
  const errors = Object.fromEntries(record.errors);
  for (const [code, count] of backgroundErrors) errors[code] = { count: (errors[code]?.count ?? 0) + count, examples: errors[code]?.examples ?? [] };
  const lockingErrors: Record<string, number> = {};
  for (const [code, entry] of Object.entries(errors)) {
    if (lockingErrorPattern.test(code) || entry.examples.some((message) => lockingMessagePattern.test(message))) lockingErrors[code] = entry.count;
  }
  if (record.answeredPending > 0) lockingErrors.MUTATION_ANSWERED_PENDING = record.answeredPending;
  const latencyMs = summarize(record.latenciesMs);
  // The sample may have missed the one slowest operation; the maximum is tracked exactly.
  if (record.completed > 0) latencyMs.max = record.maxLatencyMs;
  return {
    target,
    throughputPerSecond: record.completedInWindow / (record.windowMs / 1000),
    sent: record.sent,
    completed: record.completed,
    completedInWindow: record.completedInWindow,
    latencyMs,
    latencySampled: record.latencySampled,
    responseMs: record.responseMs.length > 0 ? summarize(record.responseMs) : null,
    answeredPending: record.answeredPending,
    errors,
    lockingErrors,
    databaseDeadlocks,
    timeline: record.perSecond.map((second, index) => {
      const sorted = [...second.latenciesMs].sort((a, b) => a - b);
      return { second: index + 1, completed: second.completed, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
    }),
    processes,
    machine,
    latenciesMs: record.latenciesMs.slice(0, latencyExportMax).map((value) => Math.round(value * 10) / 10),
  };
}
