// Money safety at the trust boundary (issue 10), through the real processes: the bank simulator, the
// API (webhook receiver), the worker, Temporal and PostgreSQL. Each test is one of the problems:
// a forged word, a forged or malformed signal, a late approval, an abandoned workflow, a database that
// trusts its callers, and bank errors misread. Deadlines and bounds are seconds here.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { developmentAppDatabasePassword, developmentWebhookSecret } from '../common/development';
import { workflowIdFor } from '../common/transactions';
import { appDatabaseUrl } from '../db/migrate';
import { createPool } from '../db/pool';
import { fundWalletForTesting } from '../db/test-funding';
import { bankCall, controlBank, resetBank } from '../test/bank';
import { graphql, signUpUser, transactionFields, walletOf, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';

const decisionTimeoutMs = 3_000;

let system: TestSystem;
let bankUrl: string;
const startedAt = new Date();
let connection: Connection;
let temporal: Client;
beforeAll(async () => {
  system = await startTestSystem({
    bankSim: true,
    env: {
      BANK_DECISION_TIMEOUT_MS: String(decisionTimeoutMs),
      BANK_UNAVAILABLE_AFTER_MS: '1500',
      BANK_API_TIMEOUT_MS: '1000',
      BANK_SIM_RETRY_SCHEDULE_MS: '0,100,250,500,1000,2000',
      RECONCILE_INTERVAL_MS: '1000',
      RECONCILE_STALE_AFTER_MS: '1000',
    },
  });
  bankUrl = system.bankSimUrl!;
  connection = await Connection.connect({ address: system.temporalAddress });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await system?.stop();
});
beforeEach(async () => {
  await resetBank(bankUrl);
  await controlBank(bankUrl, { payoutSettleMs: 300, refundSettleMs: 300 });
});

const addMoneyMutation = `mutation Add($input: AddMoneyInput!) { addMoney(input: $input) { ${transactionFields} } }`;
const withdrawMutation = `mutation Withdraw($input: WithdrawInput!) { withdraw(input: $input) { ${transactionFields} } }`;
const transactionQuery = `query($id: ID!) { transaction(id: $id) { ${transactionFields} } }`;
const final = ['COMPLETED', 'FAILED', 'EXPIRED'];

async function addMoney(user: TestUser, amount: string) {
  const response = await graphql(system.graphqlUrl, addMoneyMutation, { input: { amount, bank: 'HDFC', idempotencyKey: randomUUID() } }, user.token);
  if (!response.data?.addMoney) throw new Error(`addMoney failed: ${JSON.stringify(response.errors)}`);
  return response.data.addMoney;
}

async function withdraw(user: TestUser, amount: string) {
  const input = { amount, bank: 'ICICI', bankAccount: '000123456789', idempotencyKey: randomUUID() };
  const response = await graphql(system.graphqlUrl, withdrawMutation, { input }, user.token);
  if (!response.data?.withdraw) throw new Error(`withdraw failed: ${JSON.stringify(response.errors)}`);
  return response.data.withdraw;
}

/** A withdrawal whose payout the bank has made (the mutation may answer before that). */
async function withdrawAtBank(user: TestUser, amount: string) {
  const pending = await withdraw(user, amount);
  await waitForStatus(user, pending.id, ['AWAITING_BANK']);
  return { pending, payout: (await bankCall(bankUrl, 'GET', `/v1/payouts?reference=${pending.id}`)).body };
}

async function statusOf(user: TestUser, id: string) {
  return (await graphql(system.graphqlUrl, transactionQuery, { id }, user.token)).data.transaction;
}

async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

const waitForStatus = (user: TestUser, id: string, statuses: string[], timeoutMs?: number) =>
  eventually(`transaction ${id}`, () => statusOf(user, id), (transaction) => statuses.includes(transaction?.status), timeoutMs);

const securityEvents = async (subject: string, kind: string) =>
  (await system.pool.query('SELECT kind, outcome, actor, details FROM security_events WHERE subject = $1 AND kind = $2', [subject, kind])).rows;

const ledgerMovements = async (transactionId: string) =>
  (await system.pool.query('SELECT kind, amount FROM ledger_transfers WHERE transaction_id = $1 ORDER BY created_at', [transactionId])).rows;

const paymentPath = (redirectUrl: string) => new URL(redirectUrl).pathname.replace('/pay/', '/v1/payments/');

function signedWebhook(body: string) {
  const id = `msg_${randomUUID()}`;
  const at = new Date();
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(developmentWebhookSecret).sign(id, at, body) };
}

test('problem 1 | a success signed with the public development secret for a payment the bank reports pending | nothing credited, the denied claim is a security event', async () => {
  const user = await signUpUser(system.graphqlUrl);
  const pending = await addMoney(user, '5000');
  const payment = (await bankCall(bankUrl, 'GET', `/v1/payments?reference=${pending.id}`)).body;
  const body = JSON.stringify({ type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { id: payment.id, reference: pending.id, amount: '5000', currency: 'INR', status: 'succeeded' } });
  const response = await fetch(`${system.apiUrl}/webhooks/bank`, { method: 'POST', headers: signedWebhook(body), body });
  expect(response.status).toBe(200);
  const denied = await eventually('the denied claim', () => securityEvents(pending.id, 'bank.claim_denied'), (rows) => rows.length > 0, 10_000);
  expect(denied[0]).toMatchObject({ outcome: 'denied', actor: 'bank-webhook', details: { bankSays: 'pending' } });
  expect((await statusOf(user, pending.id)).status).toBe('AWAITING_BANK');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 0n, held: 0n });
  // The deadline comes: the payment is canceled at the bank and nothing was ever credited.
  expect(await waitForStatus(user, pending.id, final)).toMatchObject({ status: 'EXPIRED', failureCode: 'BANK_TIMEOUT' });
  expect(await ledgerMovements(pending.id)).toEqual([]);
});

test('problem 2 | bankOutcome signals: a success the bank never gave, a null payload, an unknown status | ignored and recorded, the workflow keeps waiting and completes on the bank\'s word', async () => {
  const user = await signUpUser(system.graphqlUrl);
  const pending = await addMoney(user, '4200');
  const payment = (await bankCall(bankUrl, 'GET', `/v1/payments?reference=${pending.id}`)).body;
  const handle = temporal.workflow.getHandle(workflowIdFor('ON_RAMP', pending.id));
  const claim = { webhookId: 'operator:mallory', bankObjectId: payment.id, reference: pending.id, amount: '4200', status: 'succeeded' };
  await handle.signal('bankOutcome', null);
  await handle.signal('bankOutcome', { ...claim, status: 'pending' });
  await handle.signal('bankOutcome', claim);
  await eventually('the denied signal', () => securityEvents(pending.id, 'bank.claim_denied'), (rows) => rows.length > 0, 10_000);
  expect((await securityEvents(pending.id, 'bank.signal_malformed')).length).toBe(2);
  expect((await securityEvents(pending.id, 'bank.claim_denied'))[0]).toMatchObject({ actor: 'temporal-signal', details: { bankSays: 'pending' } });
  expect((await handle.describe()).status.name).toBe('RUNNING');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 0n, held: 0n });
  // Now the bank really approves: credited once.
  expect((await bankCall(bankUrl, 'POST', `${paymentPath(pending.bankRedirectUrl)}/approve`)).status).toBe(200);
  expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_200n, held: 0n });
});

test('problem 2 | a forged payout success and a "pending" outcome while the bank has not paid | the hold stays until the bank settles', async () => {
  await controlBank(bankUrl, { payoutSettleMs: 2_500 });
  const user = await signUpUser(system.graphqlUrl);
  await fundWalletForTesting(system.pool, user.id, 10_000n);
  const { pending, payout } = await withdrawAtBank(user, '6000');
  const handle = temporal.workflow.getHandle(workflowIdFor('OFF_RAMP', pending.id));
  const claim = { webhookId: 'operator:mallory', bankObjectId: payout.id, reference: pending.id, amount: '6000' };
  await handle.signal('bankOutcome', { ...claim, status: 'pending' });
  await handle.signal('bankOutcome', { ...claim, status: 'failed' });
  await eventually('the denied signal', () => securityEvents(pending.id, 'bank.claim_denied'), (rows) => rows.length > 0, 10_000);
  expect((await statusOf(user, pending.id)).status).toBe('AWAITING_BANK');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_000n, held: 6_000n });
  expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_000n, held: 0n });
  expect(await ledgerMovements(pending.id)).toEqual([{ kind: 'pending', amount: 6_000n }, { kind: 'post_pending', amount: 6_000n }]);
});

test('problem 3 | an approval after the on-ramp ended without credit (the bank was down at its deadline) | refunded at the bank, the refund recorded for the user', async () => {
  const user = await signUpUser(system.graphqlUrl);
  const pending = await addMoney(user, '9100');
  // The bank's API goes down (503 to every call) before the deadline: the cancel cannot reach it, and
  // past the bound the on-ramp ends without credit.
  await controlBank(bankUrl, { apiErrorRate: 1 });
  expect(await waitForStatus(user, pending.id, final, 20_000)).toMatchObject({ status: 'FAILED', failureCode: 'BANK_UNAVAILABLE' });
  await controlBank(bankUrl, { apiErrorRate: 0 });
  // The user approves on the page the bank still shows: the bank takes the money, ZenPAY gives it back.
  expect((await bankCall(bankUrl, 'POST', `${paymentPath(pending.bankRedirectUrl)}/approve`)).status).toBe(200);
  const refund = await eventually(
    'the refund',
    async () => (await system.pool.query('SELECT status, amount FROM bank_refunds WHERE transaction_id = $1', [pending.id])).rows[0],
    (row) => row?.status === 'succeeded',
  );
  expect(refund.amount).toBe(9_100n);
  const payment = (await bankCall(bankUrl, 'GET', `/v1/payments?reference=${pending.id}`)).body;
  const refunds = (await bankCall(bankUrl, 'GET', `/v1/refunds?payment=${payment.id}`)).body.refunds;
  expect(refunds.map((r: { amount: string; status: string }) => [r.amount, r.status])).toEqual([['9100', 'succeeded']]);
  expect((await statusOf(user, pending.id)).status).toBe('FAILED');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 0n, held: 0n });
  expect(await ledgerMovements(pending.id)).toEqual([]);
});

test('problem 3 | the same, with every webhook lost | the reconciler finds the on-ramp the bank took money for and refunds it', async () => {
  const user = await signUpUser(system.graphqlUrl);
  const pending = await addMoney(user, '9300');
  await controlBank(bankUrl, { apiErrorRate: 1 });
  expect(await waitForStatus(user, pending.id, final, 20_000)).toMatchObject({ status: 'FAILED', failureCode: 'BANK_UNAVAILABLE' });
  await controlBank(bankUrl, { apiErrorRate: 0, dropRate: 1 });
  expect((await bankCall(bankUrl, 'POST', `${paymentPath(pending.bankRedirectUrl)}/approve`)).status).toBe(200);
  const refund = await eventually(
    'the refund',
    async () => (await system.pool.query('SELECT status FROM bank_refunds WHERE transaction_id = $1', [pending.id])).rows[0],
    (row) => row?.status === 'succeeded',
    60_000,
  );
  expect(refund.status).toBe('succeeded');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 0n, held: 0n });
});

test('problem 4 | an operator terminates a waiting withdrawal | the reconciler finishes it on the bank\'s word, the hold posted once', async () => {
  await controlBank(bankUrl, { payoutSettleMs: 2_000 });
  const user = await signUpUser(system.graphqlUrl);
  await fundWalletForTesting(system.pool, user.id, 10_000n);
  const { pending } = await withdrawAtBank(user, '2500');
  await temporal.workflow.getHandle(workflowIdFor('OFF_RAMP', pending.id)).terminate('operator clicked Terminate');
  expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 7_500n, held: 0n });
  expect(await ledgerMovements(pending.id)).toEqual([{ kind: 'pending', amount: 2_500n }, { kind: 'post_pending', amount: 2_500n }]);
});

test('problem 4 | 250 payments left waiting with no workflow and unknown to the bank | the reconciler pages through every one and ends it', async () => {
  const user = await signUpUser(system.graphqlUrl);
  const ids = Array.from({ length: 250 }, () => randomUUID());
  await system.pool.query(
    `INSERT INTO transactions (id, kind, status, user_id, amount, idempotency_key, request_fingerprint, bank, updated_at, created_at)
     SELECT id, 'ON_RAMP', 'AWAITING_BANK', $2, 100, 'stuck-' || id, '\\x00', 'HDFC', now() - interval '1 hour', now() - interval '1 hour'
     FROM unnest($1::uuid[]) AS id`,
    [ids, user.id],
  );
  const ended = await eventually(
    'every stuck payment ended',
    async () => (await system.pool.query(`SELECT status, failure_code, count(*)::int AS n FROM transactions WHERE id = ANY($1::uuid[]) GROUP BY 1, 2`, [ids])).rows,
    (rows) => rows.length === 1 && rows[0].status === 'FAILED',
    120_000,
  );
  expect(ended).toEqual([{ status: 'FAILED', failure_code: 'NOT_AT_BANK', n: 250 }]);
});

test('problem 5 | the application role | cannot write balances, transfers or statuses directly; a final status is final', async () => {
  const app = createPool({ connectionString: appDatabaseUrl(system.databaseUrl, developmentAppDatabasePassword), max: 1, applicationName: 'zenpay-test-app' });
  try {
    const refused = async (sql: string) => (await app.query(sql).then(() => 'allowed', (error: { code?: string }) => error.code)) as string;
    expect(await refused(`UPDATE ledger_accounts SET credits_posted = credits_posted + 100`)).toBe('42501');
    expect(await refused(`INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, kind) VALUES (gen_random_uuid(), 1, 2, 1, 'posted')`)).toBe('42501');
    expect(await refused(`SELECT ledger_create_transfer(gen_random_uuid(), 'posted', 1, 2, 1, NULL, NULL)`)).toBe('42501');
    expect(await refused(`UPDATE transactions SET status = 'COMPLETED'`)).toBe('42501');
    expect(await refused(`DELETE FROM security_events`)).toBe('42501');
  } finally {
    await app.end();
  }
  // Even the owner cannot move a final transaction back.
  const user = await signUpUser(system.graphqlUrl);
  await fundWalletForTesting(system.pool, user.id, 100n);
  const failed = await withdraw(user, '101');
  expect(failed.status).toBe('FAILED');
  const reopened = await system.pool.query(`UPDATE transactions SET status = 'PENDING', failure_code = NULL WHERE id = $1`, [failed.id]).then(() => 'allowed', (error: { code?: string }) => error.code);
  expect(reopened).toBe('23001');
});

test('problem 6 | payouts answered 408 after the bank made them, 429 and 404 | every payout the bank made is paid once, none made is released; never both', async () => {
  await controlBank(bankUrl, { apiFaults: { '408': 0.5, '429': 0.2, '404': 0.2 }, seed: 11 });
  const user = await signUpUser(system.graphqlUrl);
  await fundWalletForTesting(system.pool, user.id, 20_000n);
  const amounts = ['1100', '1200', '1300', '1400', '1500', '1600'];
  const pendings = await Promise.all(amounts.map((amount) => withdraw(user, amount)));
  const ends = await Promise.all(pendings.map((pending) => waitForStatus(user, pending.id, final)));
  const stats = (await bankCall(bankUrl, 'GET', '/v1/_stats')).body;
  await controlBank(bankUrl, { apiFaults: { '408': 0, '429': 0, '404': 0 } });
  let paid = 0n;
  for (const [index, pending] of pendings.entries()) {
    const payout = await bankCall(bankUrl, 'GET', `/v1/payouts?reference=${pending.id}`);
    if (payout.status === 200) {
      // The bank made it (perhaps behind a 408): it is paid and the hold posted, whatever the answers were.
      const settled = await eventually('payout settled', async () => (await bankCall(bankUrl, 'GET', `/v1/payouts?reference=${pending.id}`)).body.status, (status) => status !== 'pending');
      expect([pending.id, settled, ends[index].status]).toEqual([pending.id, 'succeeded', 'COMPLETED']);
      paid += BigInt(pending.amount);
    } else {
      expect([pending.id, ends[index]]).toMatchObject([pending.id, { status: 'FAILED', failureCode: 'BANK_UNAVAILABLE' }]);
    }
  }
  expect(paid).toBeGreaterThan(0n);
  expect(JSON.stringify(stats)).toMatch(/408/);
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 20_000n - paid, held: 0n });
});

test('problem 6 | the bank down longer than the bound when a withdrawal starts | FAILED with BANK_UNAVAILABLE and the hold released', async () => {
  const user = await signUpUser(system.graphqlUrl);
  await fundWalletForTesting(system.pool, user.id, 5_000n);
  await controlBank(bankUrl, { apiErrorRate: 1 });
  const pending = await withdraw(user, '3000');
  expect(await waitForStatus(user, pending.id, final, 20_000)).toMatchObject({ status: 'FAILED', failureCode: 'BANK_UNAVAILABLE' });
  expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 5_000n, held: 0n });
  expect(await ledgerMovements(pending.id)).toEqual([{ kind: 'pending', amount: 3_000n }, { kind: 'void_pending', amount: 3_000n }]);
});

test('statement reconciliation | the bank\'s succeeded payments, payouts and refunds of the period against the ledger | only the stray payment is reported', async () => {
  // A payment the bank took under a reference that is no transaction of ours (every other one above agrees).
  const stray = `stray-${randomUUID()}`;
  const created = await bankCall(bankUrl, 'POST', '/v1/payments', { reference: stray, amount: '777', currency: 'INR', bank: 'HDFC' });
  expect((await bankCall(bankUrl, 'POST', `/v1/payments/${created.body.id}/approve`)).status).toBe(200);
  const period = { from: new Date(startedAt.getTime() - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
  const report = await temporal.workflow.execute('statementReconciliationWorkflow', { taskQueue: system.taskQueue, workflowId: `statement-${randomUUID()}`, args: [period] });
  expect(report.payments).toBeGreaterThanOrEqual(2);
  expect(report.payouts).toBeGreaterThanOrEqual(1);
  expect(report.refunds).toBeGreaterThanOrEqual(1);
  expect(report.mismatches.map((mismatch: { kind: string; reference: string }) => [mismatch.kind, mismatch.reference])).toEqual([['unknown_reference', stray]]);
  const { rows } = await system.pool.query('SELECT mismatch_count FROM statement_reconciliations WHERE id = $1', [report.id]);
  expect(rows).toEqual([{ mismatch_count: 1 }]);
  expect(await securityEvents(stray, 'statement.unknown_reference')).toHaveLength(1);
});

test('after all of it | the ledger sums to zero and agrees with its transfers', async () => {
  const { rows: openHolds } = await system.pool.query(
    `SELECT t.id, t.status, t.failure_code FROM ledger_transfers p JOIN transactions t ON t.id = p.transaction_id
     WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id) AND t.status IN ('COMPLETED', 'FAILED', 'EXPIRED')`,
  );
  expect(openHolds).toEqual([]);
  await expectCleanLedger(system.pool, { heldAllowed: true });
});
