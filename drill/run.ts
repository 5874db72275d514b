// The failure drill: a whole system, a mixed workload from clients that keep their own records, a
// misbehaving bank, process faults on a seeded schedule, (issue 10) late approvals at the bank, forged
// webhooks and signals, an operator terminating workflows and Bank API faults, and (issue 12) a seeded share
// of payments the fraud rules send to review, decided by a simulated operator; then, once quiet, the invariants.
// The system is the dev profile or (issue 15, --cluster) the cluster profile: drill/system.ts.
import { Client, Connection } from '@temporalio/client';
import { createPool } from '../db/pool';
import { generousRateLimits } from '../system/generous-limits';
import { superviseRestarts } from '../system/supervise';
import { signUpUser, type TestUser } from '../test/client';
import { BankControl } from './bank';
import { fundBankUser, runManualCase, type BankUserContext, type CaseResult } from './bank-user';
import { runChecks, type CheckResult, type Tally } from './checks';
import { DrillClient, type PaymentRequest } from './client';
import { inject, scheduleFaults, type Fault, type FaultKind } from './faults';
import type { ForgedWord } from './forgery';
import { apiFaultWindow, terminateOne, type Termination } from './operator';
import { planAttacks, type AttackCounts, type AttackPlan } from './plan';
import { waitUntilQuiet } from './quiet';
import { Random } from './random';
import type { ReviewCounts } from './review-checks';
import { DrillReviewer, flaggedAmountMax, flaggedAmountMin, reviewServiceEnv, type ReviewRecord } from './reviewer';
import { startDrillSystem, type ClusterShape, type DrillSystem } from './system';

export interface DrillOptions {
  seed: number;
  durationMs: number;
  users: number;
  /** Pause between one client's payments (the offered load is users / this). */
  thinkTimeMs: number;
  /** The share of sends and withdrawals whose amount the fraud rules send to review (0 to 1). */
  reviewShare: number;
  faults: Record<FaultKind, number>;
  attacks: AttackCounts;
  /** Absent: the dev profile. */
  cluster?: ClusterShape;
  dataDir?: string;
  log: (line: string) => void;
}

/** What the drill did beyond the process faults, for the report. */
export interface AttackReport {
  plan: AttackPlan;
  cases: CaseResult[];
  forged: ForgedWord[];
  terminations: Termination[];
  apiFaultsInjected: Record<'408' | '429' | '404', number>;
  /** The simulated operator's reviews, in the order it found them. */
  reviews: ReviewRecord[];
}

export interface DrillReport {
  seed: number;
  transactions: number;
  requests: number;
  faults: Fault[];
  attacks: AttackReport;
  results: CheckResult[];
  tally: Tally;
  reviews: ReviewCounts;
  ok: boolean;
  summary: string;
}

/** What each workload client adds first: two payments for review. */
const clientFundingMinor = '50000';
const banks = ['HDFC', 'ICICI', 'SBI', 'AXIS', 'KOTAK'];
const taskQueue = 'zenpay-payments';
const quietTimeoutMs = 240_000;
/** Short bank deadlines, so approvals race them. */
const bankDecisionTimeoutMs = 2_500;
const reconcileIntervalMs = 2_000;
const reconcileStaleAfterMs = 5_000;
/** Quiet must last this long: the reconciler's passes find anything stale in it. */
const quietSettleMs = reconcileStaleAfterMs + 2 * reconcileIntervalMs;

const bankBase = {
  autoApprovePaymentsMs: 100,
  payoutSettleMs: 300,
  refundSettleMs: 300,
  declineRate: 0.15,
  duplicateRate: 0.3,
  dropRate: 0.15,
  webhookDelayMs: 200,
  failFirstDeliveries: 1,
  apiErrorRate: 0.1,
};

export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const system = await startDrillSystem({
    cluster: options.cluster,
    dataDir: options.dataDir,
    serviceEnv: {
      ...generousRateLimits,
      // Fraud rules and limits on: a seeded share of payments waits for the drill's reviewer (reviewer.ts).
      ...reviewServiceEnv,
      LOG_LEVEL: 'warn',
      BANK_DECISION_TIMEOUT_MS: String(bankDecisionTimeoutMs),
      // Short, so that a bank unreachable at a deadline ends the on-ramp BANK_UNAVAILABLE (and a later
      // approval is refunded), and a payout behind 408s and 429s gives up and looks it up by reference.
      BANK_UNAVAILABLE_AFTER_MS: '2000',
      BANK_SIM_RETRY_SCHEDULE_MS: '0,250,1000,2000,4000,8000,15000,30000',
      // A restarted simulator draws from the same seed (its control settings the drill puts back).
      BANK_SIM_SEED: String(options.seed),
      RECONCILE_INTERVAL_MS: String(reconcileIntervalMs),
      RECONCILE_STALE_AFTER_MS: String(reconcileStaleAfterMs),
      MUTATION_WAIT_MS: '2000',
    },
    progress: (message) => options.log(`drill: ${message}`),
  });
  options.log(`drill: ${system.profileLabel}seed=${options.seed} data in ${system.dataDir}`);
  let stopping = false;
  const unsupervise = superviseRestarts(system.supervised, { say: (message) => options.log(`drill: ${message}`), stopping: () => stopping });
  const pool = createPool({ connectionString: system.databaseUrl, max: 4, applicationName: 'zenpay-drill' });
  const connection = await Connection.connect({ address: system.temporalAddress });
  const bank = new BankControl(system.urls.bankSim, bankBase, 1_500);
  try {
    return await drive(system, pool, new Client({ connection }), bank, options);
  } finally {
    stopping = true;
    bank.stop();
    unsupervise();
    await connection.close();
    await pool.end();
    await system.stop();
  }
}

interface Workload {
  clients: DrillClient[];
  users: TestUser[];
  started: number;
  requests: number;
  refused: number;
}

async function drive(system: DrillSystem, pool: ReturnType<typeof createPool>, temporal: Client, bank: BankControl, options: DrillOptions): Promise<DrillReport> {
  const users: TestUser[] = [];
  for (let index = 0; index < options.users; index++) users.push(await signUpUser(system.urls.graphql, `Drill ${index}`, system.urls.smsSim));
  // The drill's own user at the bank: late approvals, and the target of the forgeries.
  const bankUser = await signUpUser(system.urls.graphql, 'Drill bank user', system.urls.smsSim);
  const phoneToUserId = new Map([...users, bankUser].map((user) => [user.phone, user.id]));
  const drillClient = (user: TestUser, index: number) => {
    const urls = system.clientUrls(index);
    return new DrillClient(user, urls.graphql, phoneToUserId, urls.subscription);
  };
  const clients = users.map(drillClient);
  const bankClient = drillClient(bankUser, users.length);
  const allClients = [...clients, bankClient];
  for (const client of allClients) client.follow();
  await bank.start();

  const faults = scheduleFaults(options.seed, { counts: options.faults, durationMs: options.durationMs });
  const plan = planAttacks(options.seed, options.attacks, options.durationMs);
  const forged: ForgedWord[] = [];
  const terminations: Termination[] = [];
  const bankUserContext: BankUserContext = { client: bankClient, pool, bankUrl: system.urls.bankSim, bank, forged, webhookUrl: system.urls.webhooks, temporal, startedAt: 0, log: options.log };
  await fundBankUser(bankUserContext, '500000');
  // Each client adds money first (through the bank, as a person would), so that some of its payments can be
  // large enough for review from the start.
  await Promise.all(clients.map((client) => fundBankUser({ ...bankUserContext, client }, clientFundingMinor)));
  const workload: Workload = { clients, users, started: Date.now(), requests: 0, refused: 0 };
  bankUserContext.startedAt = workload.started;
  const reviewer = new DrillReviewer({
    operatorUrl: system.urls.graphql.replace(/\/graphql$/, '/operator/graphql'), pool, temporal, seed: options.seed, startedAt: () => workload.started, log: options.log,
  });
  await reviewer.start();
  const statementFrom = new Date(workload.started - 10 * 60_000);
  const faultsDone: FaultKind[] = [];
  const progress = setInterval(() => {
    const accepted = allClients.reduce((sum, client) => sum + client.accepted.size, 0);
    options.log(
      `drill: t=${Math.round((Date.now() - workload.started) / 1000)}s requests=${workload.requests} accepted=${accepted} refused=${workload.refused} faults=${faultsDone.length}/${faults.length} (last: ${faultsDone.at(-1) ?? 'none'}) forged=${forged.length} terminations=${terminations.length} reviews-seen=${reviewer.records.size}`,
    );
  }, 5_000);

  const at = async (atMs: number) => {
    const waitMs = workload.started + atMs - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  };
  const injected: Fault[] = [];
  const faultRun = runFaults(system, faults, { at, done: faultsDone, injected, random: new Random(options.seed ^ 0xfa17), log: options.log });
  const attacks = startAttacks(plan, { temporal, bank, bankUser: bankUserContext, terminations, seed: options.seed, at, log: options.log });
  await Promise.all([...clients.map((client, index) => runClient(client, index, workload, options)), faultRun, attacks.operator]);
  const cases = await attacks.cases;
  // The reviewer goes on until nothing waits for review, and its late and duplicate decisions are sent.
  await reviewer.drain();
  clearInterval(progress);

  // The workload is over: a calm bank (still duplicating, dropping and delaying webhooks) lets everything settle.
  await bank.setBase({ apiErrorRate: 0 });
  options.log('drill: workload done; waiting for quiet (every transaction final, nothing held or running, the reconciler passed)');
  await waitUntilQuiet({ pool, temporal, taskQueue, bankUrl: system.urls.bankSim }, quietSettleMs, quietTimeoutMs, options.log);
  // Let subscriptions catch up with the last changes.
  await waitForSubscribers(allClients, pool, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (const client of allClients) await client.close();

  const { results, tally, reviews } = await runChecks({ pool, clients: allClients, bankUrl: system.urls.bankSim, temporal, taskQueue, terminations, forged, statementFrom, reviewer });
  const transactions = allClients.reduce((sum, client) => sum + client.accepted.size, 0);
  const passed = results.filter((result) => result.violations.length === 0).length;
  const ok = passed === results.length;
  const report: AttackReport = { plan, cases, forged, terminations, apiFaultsInjected: { ...bank.faultsInjected }, reviews: [...reviewer.records.values()] };
  const summary = `drill: ${system.profileLabel}seed=${options.seed} txns=${transactions} faults=${faults.length} lost=${tally.lost} duplicated=${tally.duplicated} created=${tally.created} ${attackCounts(report, bankClient)} reviews=${reviews.reviews} approved=${reviews.approved} rejected=${reviews.rejected} timed-out=${reviews.timedOut} late=${reviews.late} invariants=${passed}/${results.length} ${ok ? 'ok' : 'FAILED'}`;
  return { seed: options.seed, transactions, requests: workload.requests, faults: injected, attacks: report, results, tally, reviews, ok, summary };
}

interface FaultRunContext {
  at: (atMs: number) => Promise<void>;
  /** Each kind once the part is back. */
  done: FaultKind[];
  /** Each fault as carried out (with the process it took, when there was a choice). */
  injected: Fault[];
  /** Chooses which of several workers or API processes a kill takes. */
  random: Random;
  log: (line: string) => void;
}

/** The process faults, one at a time at their times. */
async function runFaults(system: DrillSystem, faults: readonly Fault[], context: FaultRunContext): Promise<void> {
  for (const fault of faults) {
    await context.at(fault.atMs);
    context.log(`drill: fault ${fault.kind} (down ${fault.downMs} ms)`);
    const target = await inject(system.faultTargets, fault, context.random).catch((error: unknown) => {
      context.log(`drill: fault ${fault.kind} did not recover by itself: ${String(error)}`);
      return undefined;
    });
    if (target) context.log(`drill: fault ${fault.kind} took ${target}`);
    context.injected.push(target ? { ...fault, target } : fault);
    context.done.push(fault.kind);
  }
}

interface AttackContext {
  temporal: Client;
  bank: BankControl;
  bankUser: BankUserContext;
  terminations: Termination[];
  seed: number;
  at: (atMs: number) => Promise<void>;
  log: (line: string) => void;
}

/** Starts every attack of the plan at its time: the bank user's cases, the operator's terminations, the apiFaults windows. */
function startAttacks(plan: AttackPlan, context: AttackContext): { operator: Promise<unknown>; cases: Promise<CaseResult[]> } {
  const { at, log } = context;
  const cases = plan.cases.map(async (manualCase, index) => {
    await at(manualCase.atMs);
    const result = await runManualCase(context.bankUser, manualCase, new Random(context.seed * 7_919 + index));
    log(`drill: ${manualCase.kind} ${result.transactionId ?? ''}: ${result.note}`);
    return result;
  });
  const terminations = (async () => {
    const random = new Random(context.seed ^ 0x7e55);
    for (const atMs of plan.terminationsAtMs) {
      await at(atMs);
      const termination = await terminateOne(context.temporal, taskQueue, random, context.bankUser.startedAt);
      log(termination ? `drill: operator terminated ${termination.workflowId}` : 'drill: operator found no running payment workflow to terminate');
      if (termination) context.terminations.push(termination);
    }
  })();
  const windows = plan.apiFaultWindows.map(async (window) => {
    await at(window.atMs);
    log(`drill: bank apiFaults ${JSON.stringify(window.rates)} for ${window.durationMs} ms`);
    await apiFaultWindow(context.bank, window);
  });
  return { operator: Promise.all([terminations, ...windows]), cases: Promise.all(cases) };
}

/** The summary line's counts of what the drill did beyond the process faults. */
function attackCounts(report: AttackReport, bankClient: DrillClient): string {
  const lateApprovals = [...bankClient.bankActions.values()].filter((action) => action.plan !== 'after a forged word').length;
  const injected = report.apiFaultsInjected['408'] + report.apiFaultsInjected['429'] + report.apiFaultsInjected['404'];
  const webhooks = report.forged.filter((word) => word.channel === 'webhook').length;
  return `forged-webhooks=${webhooks} forged-signals=${report.forged.length - webhooks} terminations=${report.terminations.length} late-approvals=${lateApprovals} api-faults=${injected}`;
}

/** One workload client: payments with think time until the run's end. */
async function runClient(client: DrillClient, index: number, workload: Workload, options: DrillOptions): Promise<void> {
  const clientRandom = new Random(options.seed * 1_000 + index);
  const previous: PaymentRequest[] = [];
  while (Date.now() - workload.started < options.durationMs) {
    let request = nextRequest(clientRandom, client, workload.users, previous, options.reviewShare);
    // A payment for review only when the wallet covers it (else it would fail INSUFFICIENT_FUNDS unreviewed).
    const flagged = request.kind !== 'ON_RAMP' && BigInt(request.amount) >= BigInt(flaggedAmountMin) && !previous.includes(request);
    if (flagged && (await client.available()) < BigInt(request.amount)) {
      request = { ...request, amount: String(clientRandom.int(100, 15_000)) };
    }
    previous.push(request);
    workload.requests += 1;
    const outcome = await client.send(request);
    if (!outcome.accepted) workload.refused += 1;
    await new Promise((resolve) => setTimeout(resolve, clientRandom.int(options.thinkTimeMs / 2, (options.thinkTimeMs * 3) / 2)));
  }
}

/**
 * Transfers (sometimes more than the wallet holds), on-ramps, withdrawals, and repeats of earlier keys; a
 * seeded share of the sends and withdrawals just under the per-payment limit, which the rules send to review.
 */
function nextRequest(random: Random, client: DrillClient, users: ReadonlyArray<{ id: string; phone: string }>, previous: readonly PaymentRequest[], reviewShare: number): PaymentRequest {
  const roll = random.next();
  if (roll < 0.1 && previous.length > 0) return random.pick(previous);
  if (roll < 0.3) return client.newRequest('ON_RAMP', String(random.int(5_000, 50_000)), { bank: random.pick(banks) });
  const flagged = random.chance(reviewShare);
  const amount = (ordinaryMax: number, ordinaryMin: number) => String(flagged ? random.int(flaggedAmountMin, flaggedAmountMax) : random.int(ordinaryMin, ordinaryMax));
  if (roll < 0.45) return client.newRequest('OFF_RAMP', amount(20_000, 1_000), { bank: random.pick(banks), bankAccount: '000123456789' });
  const others = users.filter((user) => user.id !== client.user.id);
  return client.newRequest('TRANSFER', amount(15_000, 100), { toPhone: random.pick(others).phone });
}

async function waitForSubscribers(clients: readonly DrillClient[], pool: ReturnType<typeof createPool>, timeoutMs: number): Promise<void> {
  const { rows } = await pool.query<{ user_id: string; count: number }>(
    `SELECT party AS user_id, count(*)::int AS count FROM (
       SELECT user_id AS party FROM transactions UNION ALL
       SELECT counterparty_user_id FROM transactions WHERE counterparty_user_id IS NOT NULL AND status = 'COMPLETED') parties GROUP BY party`,
  );
  const expected = new Map(rows.map((row) => [row.user_id, row.count]));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && clients.some((client) => client.finalEvents.size < (expected.get(client.user.id) ?? 0))) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
