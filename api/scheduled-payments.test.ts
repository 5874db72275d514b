// Scheduled and recurring payments through the real processes (API, worker, SMS simulator, Temporal's
// Schedules, PostgreSQL): runs are real Schedule actions (a ONCE instant a few seconds ahead, or the
// test-only EVERY_SECONDS cadence), and duplicates are made by starting a run workflow by hand for an
// action time that already ran. Money is checked through the public API and the ledger audit; payment
// limits are on (small), fraud rules off.
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { temporalScheduleIdFor } from '../common/scheduled-payments';
import { fundWalletForTesting } from '../db/test-funding';
import { errorCode, graphql, readCode, signUpUser, walletOf, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';
import { connect, subscribe } from '../test/ws-client';

let system: TestSystem;
let connection: Connection;
let temporal: Client;
beforeAll(async () => {
  // Limits on (a per-payment limit of 50.00 for NEW users, the others as shipped): runs are limited as sendMoney.
  system = await startTestSystem({ env: { PAYMENT_LIMITS_ENABLED: 'true', PAYMENT_LIMITS: 'NEW.PER_PAYMENT_SEND=5000' } });
  connection = await Connection.connect({ address: system.temporalAddress });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await system?.stop();
});

const scheduledFields = `id status amount currency toPhone note cadence { kind at dayOfMonth dayOfWeek timeOfDay everySeconds timeZone }
  nextRunTimes runs(first: 50) { scheduledAt refusalCode transaction { id status failureCode amount } } confirmation { method attemptsLeft }`;
const scheduleMutation = `mutation($input: SchedulePaymentInput!) { schedulePayment(input: $input) { ${scheduledFields} } }`;
const scheduledQuery = `query($id: ID!) { scheduledPayment(id: $id) { ${scheduledFields} } }`;
const change = (name: 'pause' | 'resume' | 'delete') =>
  name === 'delete' ? `mutation($id: ID!) { deleteScheduledPayment(id: $id) }` : `mutation($id: ID!) { ${name}ScheduledPayment(id: $id) { ${scheduledFields} } }`;

async function funded(name: string, amount: bigint): Promise<TestUser> {
  const user = await signUpUser(system.graphqlUrl, name);
  if (amount > 0n) await fundWalletForTesting(system.pool, user.id, amount);
  return user;
}

const schedule = (from: TestUser, to: TestUser, amount: string, cadence: Record<string, unknown>, url = system.graphqlUrl) =>
  graphql(url, scheduleMutation, { input: { toPhone: to.phone, amount, note: 'rent', cadence, idempotencyKey: randomUUID() } }, from.token);
const scheduled = async (user: TestUser, id: string) => (await graphql(system.graphqlUrl, scheduledQuery, { id }, user.token)).data?.scheduledPayment;
const act = (user: TestUser, name: 'pause' | 'resume' | 'delete', id: string) => graphql(system.graphqlUrl, change(name), { id }, user.token);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await pause(250);
  }
}

async function transfersOf(userId: string): Promise<Array<{ id: string; status: string; idempotency_key: string; failure_code: string | null }>> {
  const { rows } = await system.pool.query(`SELECT id, status, idempotency_key, failure_code FROM transactions WHERE user_id = $1 AND kind = 'TRANSFER' ORDER BY seq`, [userId]);
  return rows;
}

test('scheduled payments | ONCE a few seconds ahead | pays exactly once, its user sees the transaction live, then COMPLETED', async () => {
  const [asha, ravi] = [await funded('Asha', 10_000n), await funded('Ravi', 0n)];
  const socket = connect(system.graphqlUrl, asha.token);
  const events = subscribe(socket.client, `subscription { transactionUpdated { transaction { id status } } }`);
  try {
    // Far enough ahead that its Schedule exists before then, however loaded the machine.
    const at = new Date(Date.now() + 10_000);
    const response = await schedule(asha, ravi, '1500', { kind: 'ONCE', at: at.toISOString() });
    const created = response.data.schedulePayment;
    expect(created).toMatchObject({ status: 'ACTIVE', amount: '1500', currency: 'INR', toPhone: ravi.phone, note: 'rent', runs: [] });
    expect(created.cadence).toMatchObject({ kind: 'ONCE', at: new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString(), timeZone: 'Asia/Kolkata' });
    expect(created.nextRunTimes).toEqual([created.cadence.at]);
    // Operators see it in the Temporal UI, naming its user.
    const description = await temporal.schedule.getHandle(temporalScheduleIdFor(created.id)).describe();
    expect(await description.memo).toMatchObject({ userId: asha.id, amount: '1500', cadence: 'ONCE' });

    const done = await eventually(() => scheduled(asha, created.id), (row) => row.status === 'COMPLETED' && row.runs[0]?.transaction?.status === 'COMPLETED');
    expect(done.runs).toHaveLength(1);
    expect(done.runs[0].scheduledAt).toBe(created.cadence.at);
    expect(done.nextRunTimes).toEqual([]);
    await events.waitFor(1);
    expect(events.events.map((event: any) => event.transactionUpdated.transaction)).toContainEqual({ id: done.runs[0].transaction.id, status: 'COMPLETED' });
    await pause(2_000);
    expect(await transfersOf(asha.id)).toHaveLength(1);
    expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 1_500n, held: 0n });
  } finally {
    await events.dispose();
  }
});

test('scheduled payments | the same action time run twice by hand | one transaction, one run', async () => {
  const [asha, ravi] = [await funded('Asha', 10_000n), await funded('Ravi', 0n)];
  const created = (await schedule(asha, ravi, '700', { kind: 'MONTHLY', dayOfMonth: 5, timeOfDay: '09:30' })).data.schedulePayment;
  const scheduledAt = new Date(Date.now() - 60_000).toISOString();
  const run = () =>
    temporal.workflow.execute('scheduledPaymentRunWorkflow', {
      taskQueue: system.taskQueue,
      workflowId: `test-duplicate-run-${randomUUID()}`,
      args: [{ scheduledPaymentId: created.id, scheduledAt }],
    });
  const [first, second] = await Promise.all([run(), run()]);
  const third = await run();
  expect(first.transactionId).toBeTruthy();
  expect([second.transactionId, third.transactionId]).toEqual([first.transactionId, first.transactionId]);
  const row = await eventually(() => scheduled(asha, created.id), (value) => value.runs[0]?.transaction?.status === 'COMPLETED');
  expect(row.runs).toEqual([{ scheduledAt, refusalCode: null, transaction: { id: first.transactionId, status: 'COMPLETED', failureCode: null, amount: '700' } }]);
  expect(await transfersOf(asha.id)).toEqual([expect.objectContaining({ id: first.transactionId, idempotency_key: `scheduled:${created.id}:${scheduledAt}` })]);
  // A trigger from the Temporal UI is an action of its own (another action time): one more run.
  await temporal.schedule.getHandle(temporalScheduleIdFor(created.id)).trigger();
  const triggered = await eventually(() => scheduled(asha, created.id), (value) => value.runs.length === 2 && value.runs[0].transaction?.status === 'COMPLETED');
  expect(triggered.runs).toHaveLength(2);
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 1_400n, held: 0n });
  expect((await act(asha, 'delete', created.id)).data.deleteScheduledPayment).toBe(true);
});

test('scheduled payments | every 2 seconds | one TRANSFER per run; paused: no runs and no Schedule actions; resumed: runs again; deleted: the Schedule is gone', async () => {
  const [asha, ravi] = [await funded('Asha', 100_000n), await funded('Ravi', 0n)];
  const created = (await schedule(asha, ravi, '100', { kind: 'EVERY_SECONDS', everySeconds: 2 })).data.schedulePayment;
  expect(created.nextRunTimes.length).toBeGreaterThan(0);
  await eventually(() => scheduled(asha, created.id), (row) => row.runs.length >= 3);
  const paused = (await act(asha, 'pause', created.id)).data.pauseScheduledPayment;
  expect(paused).toMatchObject({ status: 'PAUSED', nextRunTimes: [] });
  expect((await act(asha, 'pause', created.id)).data.pauseScheduledPayment.status).toBe('PAUSED');
  const handle = temporal.schedule.getHandle(temporalScheduleIdFor(created.id));
  expect((await eventually(() => handle.describe(), (found) => found.state.paused)).state.paused).toBe(true);
  const settled = await eventually(() => scheduled(asha, created.id), (row) => row.runs.every((run: any) => run.transaction?.status === 'COMPLETED'));
  await pause(6_000);
  const whilePaused = await scheduled(asha, created.id);
  expect(whilePaused.runs).toHaveLength(settled.runs.length);

  expect((await act(asha, 'resume', created.id)).data.resumeScheduledPayment.status).toBe('ACTIVE');
  const resumed = await eventually(() => scheduled(asha, created.id), (row) => row.runs.length >= whilePaused.runs.length + 2);
  expect(resumed.runs.length).toBeGreaterThanOrEqual(whilePaused.runs.length + 2);
  expect((await act(asha, 'delete', created.id)).data.deleteScheduledPayment).toBe(true);
  await expect(eventually(() => handle.describe().then(() => 'exists', (error) => (error instanceof ScheduleNotFoundError ? 'gone' : 'error')), (state) => state === 'gone')).resolves.toBe('gone');
  expect(await scheduled(asha, created.id)).toBeNull();
  expect(errorCode(await act(asha, 'resume', created.id))).toBe('NOT_FOUND');

  // Every run is one transfer under its own action time's key, and money moved once per run.
  await pause(3_000);
  const runs = (await system.pool.query(`SELECT transaction_id, scheduled_at FROM scheduled_payment_runs WHERE scheduled_payment_id = $1`, [created.id])).rows;
  const transfers = await transfersOf(asha.id);
  expect(transfers).toHaveLength(runs.length);
  expect(new Set(transfers.map((transfer) => transfer.idempotency_key))).toEqual(
    new Set(runs.map((run: { scheduled_at: Date }) => `scheduled:${created.id}:${run.scheduled_at.toISOString()}`)),
  );
  const completed = await eventually(() => transfersOf(asha.id), (rows) => rows.every((row) => row.status === 'COMPLETED'));
  expect(completed.every((row) => row.status === 'COMPLETED')).toBe(true);
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 100n * BigInt(runs.length), held: 0n });
});

test('scheduled payments | a run without enough money | that run ends FAILED INSUFFICIENT_FUNDS (its user sees it) and the next run pays', async () => {
  const [asha, ravi] = [await funded('Asha', 1_000n), await funded('Ravi', 0n)];
  const socket = connect(system.graphqlUrl, asha.token);
  const events = subscribe(socket.client, `subscription { transactionUpdated { transaction { id status failureCode } } }`);
  try {
    const created = (await schedule(asha, ravi, '1500', { kind: 'EVERY_SECONDS', everySeconds: 2 })).data.schedulePayment;
    const failed = await eventually(() => scheduled(asha, created.id), (row) => row.runs.some((run: any) => run.transaction?.status === 'FAILED'));
    const failedRun = failed.runs.find((run: any) => run.transaction?.status === 'FAILED');
    expect(failedRun.transaction.failureCode).toBe('INSUFFICIENT_FUNDS');
    expect(failed.status).toBe('ACTIVE');
    await eventually(async () => events.events, (seen) => seen.some((event: any) => event.transactionUpdated.transaction.id === failedRun.transaction.id));
    expect(events.events.map((event: any) => event.transactionUpdated.transaction)).toContainEqual({ id: failedRun.transaction.id, status: 'FAILED', failureCode: 'INSUFFICIENT_FUNDS' });

    await fundWalletForTesting(system.pool, asha.id, 1_000n);
    const paid = await eventually(() => scheduled(asha, created.id), (row) => row.runs.some((run: any) => run.transaction?.status === 'COMPLETED'));
    expect(paid.runs.some((run: any) => run.transaction?.status === 'COMPLETED')).toBe(true);
    expect((await act(asha, 'delete', created.id)).data.deleteScheduledPayment).toBe(true);
    await pause(3_000);
    const ravisMoney = (await walletOf(system.graphqlUrl, ravi.token)).available;
    const completed = (await transfersOf(asha.id)).filter((row) => row.status === 'COMPLETED');
    expect(ravisMoney).toBe(1_500n * BigInt(completed.length));
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 2_000n - ravisMoney, held: 0n });
  } finally {
    await events.dispose();
  }
});

test('scheduled payments | a run over its user\'s per-payment limit | records LIMIT_EXCEEDED with no transaction, nothing moves, the schedule goes on', async () => {
  const [asha, ravi] = [await funded('Asha', 100_000n), await funded('Ravi', 0n)];
  const created = (await schedule(asha, ravi, '6000', { kind: 'MONTHLY', dayOfMonth: 1, timeOfDay: '07:00' })).data.schedulePayment;
  await temporal.schedule.getHandle(temporalScheduleIdFor(created.id)).trigger();
  const refused = await eventually(() => scheduled(asha, created.id), (row) => row.runs.length === 1);
  expect(refused).toMatchObject({ status: 'ACTIVE', runs: [{ refusalCode: 'LIMIT_EXCEEDED', transaction: null }] });
  expect(await transfersOf(asha.id)).toEqual([]);
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 100_000n, held: 0n });
  const { rows } = await system.pool.query(`SELECT details FROM security_events WHERE kind = 'limit.refused' AND user_id = $1`, [asha.id]);
  expect(rows).toEqual([{ details: expect.objectContaining({ limit: 'PER_PAYMENT_SEND', amountMinor: '6000' }) }]);
  expect((await act(asha, 'delete', created.id)).data.deleteScheduledPayment).toBe(true);
});

test("scheduled payments | another user's | not listed; reading, pausing, resuming, deleting or confirming it is NOT_FOUND; nothing changes", async () => {
  const [asha, ravi, mallory] = [await funded('Asha', 1_000n), await funded('Ravi', 0n), await funded('Mallory', 0n)];
  const created = (await schedule(asha, ravi, '100', { kind: 'WEEKLY', dayOfWeek: 'MONDAY', timeOfDay: '08:00' })).data.schedulePayment;
  expect((await graphql(system.graphqlUrl, `{ scheduledPayments { id } }`, {}, mallory.token)).data.scheduledPayments).toEqual([]);
  expect(await scheduled(mallory, created.id)).toBeNull();
  for (const name of ['pause', 'resume', 'delete'] as const) expect(errorCode(await act(mallory, name, created.id))).toBe('NOT_FOUND');
  const confirm = await graphql(system.graphqlUrl, `mutation($id: ID!) { confirmScheduledPayment(id: $id, code: "123456") { id } }`, { id: created.id }, mallory.token);
  expect(errorCode(confirm)).toBe('NOT_FOUND');
  expect(errorCode(await act(asha, 'pause', randomUUID()))).toBe('NOT_FOUND');
  expect(errorCode(await act(asha, 'pause', 'not-an-id'))).toBe('NOT_FOUND');
  const mine = await scheduled(asha, created.id);
  expect(mine).toMatchObject({ status: 'ACTIVE' });
  expect(mine.nextRunTimes).toHaveLength(3);
  // Mondays at 08:00 in Asia/Kolkata (02:30 UTC).
  for (const next of mine.nextRunTimes) expect([new Date(next).getUTCDay(), new Date(next).toISOString().slice(11, 19)]).toEqual([1, '02:30:00']);
  expect((await graphql(system.graphqlUrl, `{ scheduledPayments { id } }`, {}, asha.token)).data.scheduledPayments).toEqual([{ id: created.id }]);
  expect((await graphql(system.graphqlUrl, `{ scheduledPayments { id } }`, {}, null as unknown as string)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await act(asha, 'delete', created.id)).data.deleteScheduledPayment).toBe(true);
});

test('scheduled payments | bad input | BAD_USER_INPUT naming the field, nothing recorded', async () => {
  const [asha, ravi] = [await funded('Asha', 0n), await funded('Ravi', 0n)];
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ kind: 'MONTHLY', dayOfMonth: 29, timeOfDay: '09:00' }, 'cadence.dayOfMonth'],
    [{ kind: 'MONTHLY', dayOfMonth: 1, timeOfDay: '24:00' }, 'cadence.timeOfDay'],
    [{ kind: 'MONTHLY', dayOfMonth: 1 }, 'cadence.timeOfDay'],
    [{ kind: 'ONCE', at: new Date(Date.now() - 1_000).toISOString() }, 'cadence.at'],
    [{ kind: 'ONCE', at: new Date(Date.now() + 400 * 86_400_000).toISOString() }, 'cadence.at'],
    [{ kind: 'ONCE', at: new Date(Date.now() + 60_000).toISOString(), dayOfMonth: 3 }, 'cadence'],
    [{ kind: 'EVERY_SECONDS', everySeconds: 1 }, 'cadence.everySeconds'],
  ];
  for (const [cadence, field] of cases) {
    const response = await schedule(asha, ravi, '100', cadence);
    expect([cadence, response.errors?.[0]?.extensions]).toEqual([cadence, expect.objectContaining({ code: 'BAD_USER_INPUT', field })]);
  }
  const toSelf = await schedule(asha, asha, '100', { kind: 'WEEKLY', dayOfWeek: 'FRIDAY', timeOfDay: '10:00' });
  expect(toSelf.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'toPhone' });
  const zero = await schedule(asha, ravi, '0', { kind: 'WEEKLY', dayOfWeek: 'FRIDAY', timeOfDay: '10:00' });
  expect(errorCode(zero)).toBe('BAD_USER_INPUT');
  // The same key with another input.
  const key = randomUUID();
  const input = { toPhone: ravi.phone, amount: '100', cadence: { kind: 'WEEKLY', dayOfWeek: 'FRIDAY', timeOfDay: '10:00' }, idempotencyKey: key };
  const first = (await graphql(system.graphqlUrl, scheduleMutation, { input }, asha.token)).data.schedulePayment;
  expect((await graphql(system.graphqlUrl, scheduleMutation, { input }, asha.token)).data.schedulePayment.id).toBe(first.id);
  expect(errorCode(await graphql(system.graphqlUrl, scheduleMutation, { input: { ...input, amount: '101' } }, asha.token))).toBe('IDEMPOTENCY_KEY_REUSED');
  expect((await system.pool.query(`SELECT count(*)::int AS n FROM scheduled_payments WHERE user_id = $1`, [asha.id])).rows[0].n).toBe(1);
  expect((await act(asha, 'delete', first.id)).data.deleteScheduledPayment).toBe(true);
});

test('scheduled payments | step-up on, a new payee | AWAITING_CONFIRMATION with no Schedule until the SMS code confirms it, then ACTIVE on day N at the time asked (Asia/Kolkata)', async () => {
  const stepUpApi = await system.startExtraApi({ name: 'api-step-up', env: { STEP_UP_NEW_PAYEE: 'true', STEP_UP_AMOUNT_OVER: '100000' } });
  const [asha, ravi] = [await funded('Asha', 0n), await funded('Ravi', 0n)];
  const created = (await schedule(asha, ravi, '500', { kind: 'MONTHLY', dayOfMonth: 28, timeOfDay: '23:45' }, stepUpApi.graphqlUrl)).data.schedulePayment;
  expect(created).toMatchObject({ status: 'AWAITING_CONFIRMATION', nextRunTimes: [], confirmation: { method: 'SMS', attemptsLeft: 3 } });
  await expect(temporal.schedule.getHandle(temporalScheduleIdFor(created.id)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  const code = await readCode(system.smsSimUrl, asha.phone);
  const wrong = code === '000000' ? '111111' : '000000';
  const confirm = (value: string) =>
    graphql(stepUpApi.graphqlUrl, `mutation($id: ID!, $code: String!) { confirmScheduledPayment(id: $id, code: $code) { ${scheduledFields} } }`, { id: created.id, code: value }, asha.token);
  expect((await confirm(wrong)).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code', attemptsLeft: 2 });
  const confirmed = (await confirm(code)).data.confirmScheduledPayment;
  expect(confirmed).toMatchObject({ status: 'ACTIVE', confirmation: null });
  expect(confirmed.nextRunTimes).toHaveLength(3);
  for (const next of confirmed.nextRunTimes) {
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Kolkata', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(next));
    expect(local).toBe('28, 23:45');
  }
  expect((await act(asha, 'delete', created.id)).data.deleteScheduledPayment).toBe(true);
  await expectCleanLedger(system.pool);
});
