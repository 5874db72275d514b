// The failure drill: a whole system, a mixed workload from clients that keep their own records, a
// misbehaving bank, and process faults on a seeded schedule; then, once quiet, the invariants.
import { createPool } from '../db/pool';
import { generousRateLimits } from '../system/generous-limits';
import { startLocalStack, type Stack } from '../system/stack';
import { superviseRestarts } from '../system/supervise';
import { signUpUser, type TestUser } from '../test/client';
import { runChecks, type CheckResult, type Tally } from './checks';
import { DrillClient, type PaymentRequest } from './client';
import { inject, scheduleFaults, type Fault, type FaultKind } from './faults';
import { Random } from './random';

export interface DrillOptions {
  seed: number;
  durationMs: number;
  users: number;
  /** Pause between one client's payments (the offered load is users / this). */
  thinkTimeMs: number;
  faults: Record<FaultKind, number>;
  dataDir?: string;
  log: (line: string) => void;
}

export interface DrillReport {
  seed: number;
  transactions: number;
  requests: number;
  faults: Fault[];
  results: CheckResult[];
  tally: Tally;
  ok: boolean;
  summary: string;
}

const banks = ['HDFC', 'ICICI', 'SBI', 'AXIS', 'KOTAK'];
const quietTimeoutMs = 240_000;

export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const stack = await startLocalStack({
    dataDir: options.dataDir,
    prefix: 'zenpay-drill',
    temporalPersistent: true,
    serviceEnv: {
      ...generousRateLimits,
      LOG_LEVEL: 'warn',
      BANK_DECISION_TIMEOUT_MS: '5000',
      BANK_SIM_RETRY_SCHEDULE_MS: '0,250,1000,2000,4000,8000,15000,30000',
      RECONCILE_INTERVAL_MS: '2000',
      RECONCILE_STALE_AFTER_MS: '5000',
      MUTATION_WAIT_MS: '2000',
    },
    progress: (message) => options.log(`drill: ${message}`),
  });
  options.log(`drill: seed=${options.seed} data in ${stack.dataDir}`);
  let stopping = false;
  const unsupervise = superviseRestarts([stack.api, stack.worker, stack.bankSim], { say: (message) => options.log(`drill: ${message}`), stopping: () => stopping });
  const pool = createPool({ connectionString: stack.databaseUrl, max: 4, applicationName: 'zenpay-drill' });
  try {
    return await drive(stack, pool, options);
  } finally {
    stopping = true;
    unsupervise();
    await pool.end();
    await stack.stop();
  }
}

async function drive(stack: Stack, pool: ReturnType<typeof createPool>, options: DrillOptions): Promise<DrillReport> {
  const users: TestUser[] = [];
  for (let index = 0; index < options.users; index++) users.push(await signUpUser(stack.urls.graphql, `Drill ${index}`, stack.urls.smsSim));
  const phoneToUserId = new Map(users.map((user) => [user.phone, user.id]));
  const clients = users.map((user) => new DrillClient(user, stack.urls.graphql, phoneToUserId));
  for (const client of clients) client.follow();
  await setBank(stack.urls.bankSim, {
    autoApprovePaymentsMs: 100,
    payoutSettleMs: 300,
    declineRate: 0.15,
    duplicateRate: 0.3,
    dropRate: 0.15,
    webhookDelayMs: 200,
    failFirstDeliveries: 1,
    apiErrorRate: 0.1,
    seed: options.seed,
  });

  const faults = scheduleFaults(options.seed, { counts: options.faults, durationMs: options.durationMs });
  const started = Date.now();
  let requests = 0;
  let refused = 0;
  let faultsDone = 0;
  let lastFault = 'none';
  const progress = setInterval(() => {
    const accepted = clients.reduce((sum, client) => sum + client.accepted.size, 0);
    options.log(`drill: t=${Math.round((Date.now() - started) / 1000)}s requests=${requests} accepted=${accepted} refused=${refused} faults=${faultsDone}/${faults.length} (last: ${lastFault})`);
  }, 5_000);

  const faultRun = (async () => {
    for (const fault of faults) {
      const waitMs = started + fault.atMs - Date.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      options.log(`drill: fault ${fault.kind} (down ${fault.downMs} ms)`);
      await inject(stack, fault).catch((error: unknown) => options.log(`drill: fault ${fault.kind} did not recover by itself: ${String(error)}`));
      faultsDone += 1;
      lastFault = fault.kind;
    }
  })();

  const workload = clients.map(async (client, index) => {
    const clientRandom = new Random(options.seed * 1_000 + index);
    const previous: PaymentRequest[] = [];
    while (Date.now() - started < options.durationMs) {
      const request = nextRequest(clientRandom, client, users, previous);
      previous.push(request);
      requests += 1;
      const outcome = await client.send(request);
      if (!outcome.accepted) refused += 1;
      await new Promise((resolve) => setTimeout(resolve, clientRandom.int(options.thinkTimeMs / 2, (options.thinkTimeMs * 3) / 2)));
    }
  });
  await Promise.all([...workload, faultRun]);
  clearInterval(progress);

  options.log('drill: workload done; waiting for every transaction to be final');
  await waitUntilQuiet(pool, options.log);
  // Let subscriptions and visibility catch up with the last changes.
  await waitForSubscribers(clients, pool, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (const client of clients) await client.close();

  const { results, tally } = await runChecks({
    pool,
    clients,
    bankUrl: stack.urls.bankSim,
    temporalAddress: stack.temporalAddress,
    taskQueue: 'zenpay-payments',
  });
  const transactions = clients.reduce((sum, client) => sum + client.accepted.size, 0);
  const passed = results.filter((result) => result.violations.length === 0).length;
  const ok = passed === results.length;
  const summary = `drill: seed=${options.seed} txns=${transactions} faults=${faults.length} lost=${tally.lost} duplicated=${tally.duplicated} created=${tally.created} invariants=${passed}/${results.length} ${ok ? 'ok' : 'FAILED'}`;
  return { seed: options.seed, transactions, requests, faults, results, tally, ok, summary };
}

/** Transfers (sometimes more than the wallet holds), on-ramps, withdrawals, and repeats of earlier keys. */
function nextRequest(random: Random, client: DrillClient, users: ReadonlyArray<{ id: string; phone: string }>, previous: readonly PaymentRequest[]): PaymentRequest {
  const roll = random.next();
  if (roll < 0.1 && previous.length > 0) return random.pick(previous);
  if (roll < 0.3) return client.newRequest('ON_RAMP', String(random.int(5_000, 50_000)), { bank: random.pick(banks) });
  if (roll < 0.45) return client.newRequest('OFF_RAMP', String(random.int(1_000, 20_000)), { bank: random.pick(banks), bankAccount: '000123456789' });
  const others = users.filter((user) => user.id !== client.user.id);
  return client.newRequest('TRANSFER', String(random.int(100, 15_000)), { toPhone: random.pick(others).phone });
}

async function setBank(bankUrl: string, settings: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${bankUrl}/v1/_control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
  if (!response.ok) throw new Error(`bank control refused: ${await response.text()}`);
}

async function waitUntilQuiet(pool: ReturnType<typeof createPool>, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + quietTimeoutMs;
  for (;;) {
    const { rows } = await pool
      .query<{ unfinished: number }>(`SELECT count(*)::int AS unfinished FROM transactions WHERE status IN ('PENDING', 'AWAITING_BANK')`)
      .catch(() => ({ rows: [{ unfinished: -1 }] }));
    if (rows[0]!.unfinished === 0) return;
    if (Date.now() > deadline) {
      log(`drill: ${rows[0]!.unfinished} transactions still unfinished after ${quietTimeoutMs} ms`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function waitForSubscribers(clients: readonly DrillClient[], pool: ReturnType<typeof createPool>, timeoutMs: number): Promise<void> {
  const { rows } = await pool.query<{ user_id: string; count: number }>(
    `SELECT party AS user_id, count(*)::int AS count FROM (
       SELECT user_id AS party FROM transactions UNION ALL
       SELECT counterparty_user_id FROM transactions WHERE counterparty_user_id IS NOT NULL) parties GROUP BY party`,
  );
  const expected = new Map(rows.map((row) => [row.user_id, row.count]));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && clients.some((client) => client.finalEvents.size < (expected.get(client.user.id) ?? 0))) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
