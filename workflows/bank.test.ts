// On-ramps and off-ramps end to end with a misbehaving bank: the real bank simulator process, the API
// process (webhook receiver), the worker process, Temporal and PostgreSQL. Deadlines are seconds here.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { developmentWebhookSecret } from '../common/development';
import { fundWalletForTesting } from '../db/test-funding';
import { bankCall, controlBank, decideOnNetbankingPage, resetBank } from '../test/bank';
import { graphql, sendMoneyMutation, signUpUser, transactionFields, walletOf, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';
import { progressQuery } from './bank-outcome';

const rotatedSecret = 'whsec_' + Buffer.from('zenpay-test-rotated-webhook-secret-0123456789').toString('base64');
const decisionTimeoutMs = 3_000;

let system: TestSystem;
let bankUrl: string;
beforeAll(async () => {
  system = await startTestSystem({
    bankSim: true,
    env: {
      BANK_DECISION_TIMEOUT_MS: String(decisionTimeoutMs),
      BANK_SIM_RETRY_SCHEDULE_MS: '0,100,250,500,1000,2000',
      BANK_WEBHOOK_SECRETS: `${developmentWebhookSecret},${rotatedSecret}`,
    },
  });
  bankUrl = system.bankSimUrl!;
});
afterAll(async () => {
  await system?.stop();
});
beforeEach(async () => {
  await resetBank(bankUrl);
  await controlBank(bankUrl, { payoutSettleMs: 300 });
});

const addMoneyMutation = `mutation Add($input: AddMoneyInput!) { addMoney(input: $input) { ${transactionFields} } }`;
const withdrawMutation = `mutation Withdraw($input: WithdrawInput!) { withdraw(input: $input) { ${transactionFields} } }`;
const transactionQuery = `query($id: ID!) { transaction(id: $id) { ${transactionFields} } }`;

async function addMoney(user: TestUser, amount: string, bank = 'HDFC') {
  const response = await graphql(system.graphqlUrl, addMoneyMutation, { input: { amount, bank, idempotencyKey: randomUUID() } }, user.token);
  if (!response.data?.addMoney) throw new Error(`addMoney failed: ${JSON.stringify(response.errors)}`);
  return response.data.addMoney;
}

async function withdraw(user: TestUser, amount: string) {
  const response = await graphql(
    system.graphqlUrl,
    withdrawMutation,
    { input: { amount, bank: 'ICICI', bankAccount: '000123456789', idempotencyKey: randomUUID() } },
    user.token,
  );
  if (!response.data?.withdraw) throw new Error(`withdraw failed: ${JSON.stringify(response.errors)}`);
  return response.data.withdraw;
}

async function waitForStatus(user: TestUser, id: string, statuses: string[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const transaction = (await graphql(system.graphqlUrl, transactionQuery, { id }, user.token)).data?.transaction;
    if (transaction && statuses.includes(transaction.status)) return transaction;
    if (Date.now() > deadline) throw new Error(`transaction ${id} is ${transaction?.status}, not ${statuses}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const ledgerMovements = async (transactionId: string) =>
  (await system.pool.query('SELECT kind, amount FROM ledger_transfers WHERE transaction_id = $1 ORDER BY created_at', [transactionId])).rows;

const final = ['COMPLETED', 'FAILED', 'EXPIRED'];

describe('on-ramp', () => {
  test('approved on the netbanking page through its own form | wallet credited once', async () => {
    const user = await signUpUser(system.graphqlUrl, 'Asha');
    const pending = await addMoney(user, '150000');
    expect(pending).toMatchObject({ kind: 'ON_RAMP', status: 'AWAITING_BANK', direction: 'CREDIT', amount: '150000', counterparty: 'HDFC' });
    expect(pending.bankRedirectUrl).toMatch(new RegExp(`^${bankUrl}/pay/`));
    expect(await decideOnNetbankingPage(pending.bankRedirectUrl, 'approve')).toBeLessThan(400);
    const done = await waitForStatus(user, pending.id, final);
    expect(done).toMatchObject({ status: 'COMPLETED', failureCode: null, bankRedirectUrl: null });
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 150_000n, held: 0n });
    expect(await ledgerMovements(pending.id)).toEqual([{ kind: 'posted', amount: 150_000n }]);
  });

  test('declined on the netbanking page | FAILED with BANK_DECLINED, nothing credited', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const pending = await addMoney(user, '5000');
    await decideOnNetbankingPage(pending.bankRedirectUrl, 'decline');
    const done = await waitForStatus(user, pending.id, final);
    expect(done).toMatchObject({ status: 'FAILED', failureCode: 'BANK_DECLINED' });
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 0n, held: 0n });
    expect(await ledgerMovements(pending.id)).toEqual([]);
  });

  test('every webhook twice, delayed out of order, after 2 lost attempts | each credited exactly once', async () => {
    await controlBank(bankUrl, { duplicateRate: 1, webhookDelayMs: 300, failFirstDeliveries: 2 });
    const user = await signUpUser(system.graphqlUrl);
    const pendings = await Promise.all(['1000', '2000', '3000', '4000', '5000'].map((amount) => addMoney(user, amount)));
    for (const pending of [...pendings].reverse()) await bankCall(bankUrl, 'POST', new URL(pending.bankRedirectUrl).pathname.replace('/pay/', '/v1/payments/') + '/approve');
    for (const pending of pendings) expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 15_000n, held: 0n });
    for (const pending of pendings) expect(await ledgerMovements(pending.id)).toHaveLength(1);
    // Each event reached the receiver twice under one webhook-id (and, after the loss, on its 3rd attempt).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const { rows } = await system.pool.query(
      `SELECT reference, count(*)::int AS events FROM bank_webhooks WHERE reference = ANY($1::text[]) GROUP BY reference`,
      [pendings.map((pending) => pending.id)],
    );
    expect(rows).toHaveLength(5);
    const deliveries = (await bankCall(bankUrl, 'GET', '/v1/_deliveries?limit=1000')).body;
    const ours = (deliveries.deliveries ?? deliveries).filter((delivery: any) => pendings.some((pending) => pending.id === delivery.reference));
    expect(ours).toHaveLength(10);
    for (const delivery of ours) expect(delivery.attempts).toBeGreaterThanOrEqual(3);
  });

  test('webhook dropped entirely | after the deadline the status API says succeeded | credited once', async () => {
    await controlBank(bankUrl, { dropRate: 1 });
    const user = await signUpUser(system.graphqlUrl);
    const pending = await addMoney(user, '7000');
    await decideOnNetbankingPage(pending.bankRedirectUrl, 'approve');
    const started = Date.now();
    const done = await waitForStatus(user, pending.id, final);
    expect(done.status).toBe('COMPLETED');
    expect(Date.now() - started).toBeGreaterThan(decisionTimeoutMs / 2);
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 7_000n, held: 0n });
    expect(await ledgerMovements(pending.id)).toHaveLength(1);
  });

  test('the bank never decides | the payment is canceled at the bank, EXPIRED with BANK_TIMEOUT; a later approval is refused by the bank', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const pending = await addMoney(user, '9000');
    const done = await waitForStatus(user, pending.id, final);
    expect(done).toMatchObject({ status: 'EXPIRED', failureCode: 'BANK_TIMEOUT' });
    expect((await bankCall(bankUrl, 'GET', `/v1/payments?reference=${pending.id}`)).body.status).toBe('canceled');
    // The page no longer offers Approve, and the API refuses it: the bank cannot take money any more.
    await expect(decideOnNetbankingPage(pending.bankRedirectUrl, 'approve')).rejects.toThrow(/no approve form/);
    const paymentPath = new URL(pending.bankRedirectUrl).pathname.replace('/pay/', '/v1/payments/');
    expect((await bankCall(bankUrl, 'POST', `${paymentPath}/approve`)).status).toBe(409);
    expect((await graphql(system.graphqlUrl, transactionQuery, { id: pending.id }, user.token)).data.transaction.status).toBe('EXPIRED');
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 0n, held: 0n });
  });

  test('the bank API answers 503 to half the calls | the workflow still completes', async () => {
    await controlBank(bankUrl, { apiErrorRate: 0.5, autoApprovePaymentsMs: 50, seed: 7 });
    const user = await signUpUser(system.graphqlUrl);
    const pendings = await Promise.all(Array.from({ length: 4 }, () => addMoney(user, '2500')));
    for (const pending of pendings) expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 10_000n, held: 0n });
    const { rows } = await system.pool.query(`SELECT count(DISTINCT reference)::int AS payments FROM bank_webhooks WHERE reference = ANY($1::text[])`, [pendings.map((p) => p.id)]);
    expect(rows[0].payments).toBe(4);
  });

  test('the worker killed while waiting for the bank, restarted | the webhook still completes it', async () => {
    const user = await signUpUser(system.graphqlUrl);
    await controlBank(bankUrl, { payoutSettleMs: 60_000 });
    const pending = await addMoney(user, '4200');
    await system.worker.kill();
    await decideOnNetbankingPage(pending.bankRedirectUrl, 'approve');
    await waitForWebhookEffect(pending.id, 'signalled');
    await system.worker.start();
    expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_200n, held: 0n });
  });
});

async function waitForWebhookEffect(reference: string, effect: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rowCount } = await system.pool.query('SELECT 1 FROM bank_webhooks WHERE reference = $1 AND effect = $2', [reference, effect]);
    if (rowCount) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no webhook with effect ${effect} for ${reference}`);
}

describe('off-ramp', () => {
  test('withdraw succeeds | held at once, then zero; the money leaves once', async () => {
    const user = await signUpUser(system.graphqlUrl);
    await fundWalletForTesting(system.pool, user.id, 10_000n);
    const pending = await withdraw(user, '6000');
    expect(pending).toMatchObject({ kind: 'OFF_RAMP', direction: 'DEBIT', counterparty: 'ICICI' });
    expect(['PENDING', 'AWAITING_BANK']).toContain(pending.status);
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_000n, held: 6_000n });
    expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_000n, held: 0n });
    expect((await ledgerMovements(pending.id)).map((row) => row.kind)).toEqual(['pending', 'post_pending']);
  });

  test('the bank fails the payout | FAILED with BANK_DECLINED and the money back in available', async () => {
    await controlBank(bankUrl, { declineRate: 1 });
    const user = await signUpUser(system.graphqlUrl);
    await fundWalletForTesting(system.pool, user.id, 10_000n);
    const pending = await withdraw(user, '6000');
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 4_000n, held: 6_000n });
    expect(await waitForStatus(user, pending.id, final)).toMatchObject({ status: 'FAILED', failureCode: 'BANK_DECLINED' });
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 10_000n, held: 0n });
    expect((await ledgerMovements(pending.id)).map((row) => row.kind)).toEqual(['pending', 'void_pending']);
  });

  test('withdraw more than available | FAILED with INSUFFICIENT_FUNDS, nothing held, no payout', async () => {
    const user = await signUpUser(system.graphqlUrl);
    await fundWalletForTesting(system.pool, user.id, 1_000n);
    const failed = await withdraw(user, '1001');
    expect(failed).toMatchObject({ status: 'FAILED', failureCode: 'INSUFFICIENT_FUNDS' });
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 1_000n, held: 0n });
    expect((await bankCall(bankUrl, 'GET', `/v1/payouts?reference=${failed.id}`)).status).toBe(404);
  });
});

describe('webhook receiver', () => {
  async function post(body: string, headers: Record<string, string>) {
    const response = await fetch(`${system.apiUrl}/webhooks/bank`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return response.status;
  }

  function signed(secret: string, body: string, options: { id?: string; at?: Date } = {}) {
    const id = options.id ?? `msg_${randomUUID()}`;
    const at = options.at ?? new Date();
    return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body) };
  }

  async function waitingOnRamp() {
    const user = await signUpUser(system.graphqlUrl);
    const pending = await addMoney(user, '3000');
    const payment = (await bankCall(bankUrl, 'GET', `/v1/payments?reference=${pending.id}`)).body;
    const body = JSON.stringify({
      type: 'payment.succeeded',
      timestamp: new Date().toISOString(),
      data: { id: payment.id, reference: pending.id, amount: '3000', currency: 'INR', status: 'succeeded' },
    });
    return { user, pending, body };
  }

  test('forged, wrong-secret, stale, future and unsigned webhooks | 401 and nothing changes', async () => {
    await controlBank(bankUrl, { autoApprovePaymentsMs: null });
    const { user, pending, body } = await waitingOnRamp();
    const wrongSecret = 'whsec_' + Buffer.from('not-the-secret-of-this-bank-at-all').toString('base64');
    const good = signed(developmentWebhookSecret, body);
    const cases: Array<[string, Record<string, string>]> = [
      ['forged signature', { ...good, 'webhook-signature': 'v1,' + Buffer.alloc(32, 1).toString('base64') }],
      ['signature of another body', { ...good, 'webhook-signature': new Webhook(developmentWebhookSecret).sign(good['webhook-id'], new Date(), body.replace('3000', '9000')) }],
      ['wrong secret', signed(wrongSecret, body)],
      ['stale timestamp', signed(developmentWebhookSecret, body, { at: new Date(Date.now() - 6 * 60_000) })],
      ['future timestamp', signed(developmentWebhookSecret, body, { at: new Date(Date.now() + 6 * 60_000) })],
      ['missing signature', { 'webhook-id': good['webhook-id'], 'webhook-timestamp': good['webhook-timestamp'] }],
      ['missing id', { 'webhook-timestamp': good['webhook-timestamp'], 'webhook-signature': good['webhook-signature'] }],
      ['no headers', {}],
    ];
    for (const [name, headers] of cases) expect([name, await post(body, headers)]).toEqual([name, 401]);
    const { rowCount } = await system.pool.query('SELECT 1 FROM bank_webhooks WHERE reference = $1', [pending.id]);
    expect(rowCount).toBe(0);
    expect((await graphql(system.graphqlUrl, transactionQuery, { id: pending.id }, user.token)).data.transaction.status).toBe('AWAITING_BANK');
  });

  test('a valid signature over a malformed body | 400 and nothing changes', async () => {
    const { pending } = await waitingOnRamp();
    for (const body of ['{not json', '{}', JSON.stringify({ type: 'payment.succeeded', timestamp: 'x', data: { id: 'p', reference: pending.id, amount: '3000.5', currency: 'INR', status: 'succeeded' } }), JSON.stringify({ type: 'payment.succeeded', timestamp: 'x', data: { id: 'p', reference: pending.id, amount: '3000', currency: 'INR', status: 'failed' } })]) {
      expect(await post(body, signed(developmentWebhookSecret, body))).toBe(400);
    }
    const { rowCount } = await system.pool.query('SELECT 1 FROM bank_webhooks WHERE reference = $1', [pending.id]);
    expect(rowCount).toBe(0);
  });

  test('signed only with the rotated second secret | accepted as the prompt, credited once the bank confirms; its replay has no effect', async () => {
    // The simulator's own webhooks are dropped: the only word that reaches ZenPAY is ours.
    await controlBank(bankUrl, { dropRate: 1 });
    const { user, pending, body } = await waitingOnRamp();
    expect((await bankCall(bankUrl, 'POST', new URL(pending.bankRedirectUrl).pathname.replace('/pay/', '/v1/payments/') + '/approve')).status).toBe(200);
    const headers = signed(rotatedSecret, body);
    const posted = Date.now();
    expect(await post(body, headers)).toBe(200);
    expect((await waitForStatus(user, pending.id, final)).status).toBe('COMPLETED');
    // Well before the deadline's own look at the bank: the webhook prompted it.
    expect(Date.now() - posted).toBeLessThan(decisionTimeoutMs);
    // A replay of the same webhook (same id, re-signed with a fresh timestamp) is a duplicate.
    expect(await post(body, signed(rotatedSecret, body, { id: headers['webhook-id'] }))).toBe(200);
    // A different webhook-id carrying a contradicting outcome changes nothing either.
    const contradicting = body.replace('payment.succeeded', 'payment.failed').replace('"status":"succeeded"', '"status":"failed"');
    expect(await post(contradicting, signed(developmentWebhookSecret, contradicting))).toBe(200);
    expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: 3_000n, held: 0n });
    expect(await ledgerMovements(pending.id)).toHaveLength(1);
  });
});

describe('operators', () => {
  test("a user's on-ramps and everything waiting for a bank | found by search attributes; a waiting workflow says what it waits for", async () => {
    const user = await signUpUser(system.graphqlUrl);
    const waiting = await addMoney(user, '1234', 'SBI');
    const connection = await Connection.connect({ address: system.temporalAddress });
    try {
      const client = new Client({ connection });
      const ids = async (query: string) => {
        const found: string[] = [];
        for await (const execution of client.workflow.list({ query })) found.push(execution.workflowId);
        return found;
      };
      // Visibility is updated a moment after the workflow changes.
      const deadline = Date.now() + 10_000;
      let onRamps: string[] = [];
      let stuck: string[] = [];
      while (Date.now() < deadline) {
        onRamps = await ids(`ZenpayUserId = "${user.id}" AND ZenpayKind = "ON_RAMP"`);
        stuck = await ids(`ZenpayStatus = "AWAITING_BANK" AND ZenpayUserId = "${user.id}"`);
        if (onRamps.length && stuck.length) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(onRamps).toEqual([`onramp-${waiting.id}`]);
      expect(stuck).toEqual([`onramp-${waiting.id}`]);
      const progress = await client.workflow.getHandle(`onramp-${waiting.id}`).query(progressQuery);
      expect(progress).toMatchObject({ stage: 'waiting for the bank', bank: 'SBI', reference: waiting.id });
      expect(progress.bankObjectId).toMatch(/^pay_/);
      expect(Date.parse(progress.deadlineAt!)).toBeGreaterThan(Date.now() - decisionTimeoutMs);
    } finally {
      await connection.close();
    }
  });
});

describe('mixed run', () => {
  test('50 on-ramps, 50 withdrawals, 200 transfers with a misbehaving bank | every wallet adds up', async () => {
    await controlBank(bankUrl, { duplicateRate: 0.3, dropRate: 0.2, webhookDelayMs: 100, declineRate: 0.2, autoApprovePaymentsMs: 50, payoutSettleMs: 100, seed: 42 });
    const users = await Promise.all(Array.from({ length: 10 }, (_, index) => signUpUser(system.graphqlUrl, `Mixed ${index}`)));
    const onRamps = await Promise.all(Array.from({ length: 50 }, (_, index) => addMoney(users[index % 10]!, String(5_000 + index * 100))));
    const onRampFinals = await Promise.all(onRamps.map((pending, index) => waitForStatus(users[index % 10]!, pending.id, final, 60_000)));

    const transfers = Array.from({ length: 200 }, (_, index) => ({ from: users[index % 10]!, to: users[(index * 3 + 1) % 10]!, amount: String(100 + ((index * 53) % 2_000)) }))
      .filter((transfer) => transfer.from !== transfer.to);
    const withdrawals = Array.from({ length: 50 }, (_, index) => ({ user: users[(index * 7) % 10]!, amount: String(500 + index * 37) }));
    const [transferResults, withdrawalResults] = await Promise.all([
      Promise.all(transfers.map((transfer) => graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: transfer.to.phone, amount: transfer.amount, idempotencyKey: randomUUID() } }, transfer.from.token))),
      Promise.all(withdrawals.map((withdrawal) => withdraw(withdrawal.user, withdrawal.amount))),
    ]);
    const transferFinals = await Promise.all(transferResults.map((result, index) => waitForStatus(transfers[index]!.from, result.data.sendMoney.id, final, 60_000)));
    const withdrawalFinals = await Promise.all(withdrawalResults.map((pending, index) => waitForStatus(withdrawals[index]!.user, pending.id, final, 60_000)));

    // Every wallet equals its on-ramps minus its withdrawals plus transfers in minus out (completed ones).
    const expected = new Map(users.map((user) => [user.id, 0n]));
    onRampFinals.forEach((transaction, index) => {
      if (transaction.status === 'COMPLETED') expected.set(users[index % 10]!.id, expected.get(users[index % 10]!.id)! + BigInt(transaction.amount));
    });
    withdrawalFinals.forEach((transaction, index) => {
      if (transaction.status === 'COMPLETED') expected.set(withdrawals[index]!.user.id, expected.get(withdrawals[index]!.user.id)! - BigInt(transaction.amount));
    });
    transferFinals.forEach((transaction, index) => {
      if (transaction.status !== 'COMPLETED') return;
      const { from, to } = transfers[index]!;
      expected.set(from.id, expected.get(from.id)! - BigInt(transaction.amount));
      expected.set(to.id, expected.get(to.id)! + BigInt(transaction.amount));
    });
    for (const user of users) expect(await walletOf(system.graphqlUrl, user.token)).toEqual({ available: expected.get(user.id), held: 0n });
    expect(onRampFinals.some((transaction) => transaction.status === 'FAILED')).toBe(true);
    expect(onRampFinals.filter((transaction) => transaction.status === 'COMPLETED').length).toBeGreaterThan(20);
    await expectCleanLedger(system.pool);
    const { rows } = await system.pool.query(`SELECT count(*)::int AS unfinished FROM transactions WHERE status IN ('PENDING', 'AWAITING_BANK')`);
    expect(rows[0].unfinished).toBe(0);
  }, 240_000);
});
