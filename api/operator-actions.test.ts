// Operator actions through the real processes (API, worker, bank and SMS simulators, Temporal,
// PostgreSQL), operators created by the real command: a transfer reversed (all at once, or partly with
// a debt a later incoming transfer settles), an on-ramp refunded at the bank, stuck on-ramps retried and
// closed on the bank's word. Balances, both users' live events, the audit and a clean ledger are checked;
// a user's token cannot act, an action id is one action, a workflow no operator asked for does nothing.
import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { developmentAppDatabasePassword } from '../common/development';
import { appDatabaseUrl } from '../db/migrate';
import { fundWalletForTesting } from '../db/test-funding';
import { projectRoot } from '../system/temporal';
import { bankCall, controlBank, decideOnNetbankingPage } from '../test/bank';
import { errorCode, graphql, signUpUser, walletOf, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';
import { connect, subscribe } from '../test/ws-client';

let system: TestSystem;
let connection: Connection;
let temporal: Client;
beforeAll(async () => {
  system = await startTestSystem({
    bankSim: true,
    // The reconciler stays out of the way: stuck payments wait for an operator here.
    env: { RECONCILE_INTERVAL_MS: '3600000', RECONCILE_STALE_AFTER_MS: '3600000', MUTATION_WAIT_MS: '10000' },
  });
  await controlBank(system.bankSimUrl!, { payoutSettleMs: 200, refundSettleMs: 200 });
  connection = await Connection.connect({ address: system.temporalAddress });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await system?.stop();
});

const operatorCall = (query: string, variables: Record<string, unknown> = {}, token?: string) => graphql(`${system.apiUrl}/operator/graphql`, query, variables, token);

function operatorCommand(args: string[], stdin = ''): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'scripts', 'operator.ts'), ...args],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: appDatabaseUrl(system.databaseUrl, developmentAppDatabasePassword) } },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
    child.stdin!.end(stdin);
  });
}

async function newOperator(): Promise<{ name: string; token: string }> {
  const name = `op-${randomUUID().slice(0, 8)}`;
  const password = `correct horse ${randomUUID()}`;
  expect((await operatorCommand(['create', name], `${password}\n`)).code).toBe(0);
  const signedIn = await operatorCall(`mutation($name: String!, $password: String!) { signIn(name: $name, password: $password) { token } }`, { name, password });
  return { name, token: signedIn.data.signIn.token };
}

async function user(name: string, funds = 0n): Promise<TestUser> {
  const created = await signUpUser(system.graphqlUrl, name);
  if (funds > 0n) await fundWalletForTesting(system.pool, created.id, funds);
  return created;
}

async function send(from: TestUser, to: TestUser, amount: string): Promise<string> {
  const sent = await graphql(system.graphqlUrl, `mutation($input: SendMoneyInput!) { sendMoney(input: $input) { id status } }`, { input: { toPhone: to.phone, amount, idempotencyKey: randomUUID() } }, from.token);
  expect(sent.data.sendMoney.status).toBe('COMPLETED');
  return sent.data.sendMoney.id;
}

const runFields = 'id kind transactionId operator reason via status result details payment { id status failureCode }';
const actionMutation = (name: string) =>
  `mutation($id: ID!, $reason: String!, $actionId: ID) { ${name}(transactionId: $id, reason: $reason, actionId: $actionId) { ${runFields} } }`;

async function act(operator: { token: string }, name: 'reverseTransfer' | 'refundOnRamp' | 'retryPayment' | 'closePayment', id: string, reason: string, actionId?: string) {
  const answer = await operatorCall(actionMutation(name), { id, reason, actionId }, operator.token);
  if (!answer.data?.[name]) throw new Error(`${name} failed: ${JSON.stringify(answer.errors)}`);
  let run = answer.data[name];
  // The answer waits a bounded time; a longer action is looked up until it ends.
  for (const deadline = Date.now() + 60_000; run.status === 'RUNNING' && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    run = (await operatorCall(`query($id: ID!) { operatorAction(id: $id) { ${runFields} } }`, { id: run.id }, operator.token)).data.operatorAction;
  }
  return { ...run, details: JSON.parse(run.details) };
}

const viewFields = 'id status failureCode amount reversal { amount returned owed reversedAt } refund { status amount }';
const transactionOf = async (owner: TestUser, id: string) =>
  (await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { ${viewFields} } }`, { id }, owner.token)).data.transaction;

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function addMoney(owner: TestUser, amount: string): Promise<{ id: string; bankRedirectUrl: string }> {
  const added = await graphql(system.graphqlUrl, `mutation($input: AddMoneyInput!) { addMoney(input: $input) { id status bankRedirectUrl } }`, { input: { amount, bank: 'HDFC', idempotencyKey: randomUUID() } }, owner.token);
  expect(added.data.addMoney.status).toBe('AWAITING_BANK');
  return added.data.addMoney;
}

async function completedOnRamp(owner: TestUser, amount: string): Promise<string> {
  const added = await addMoney(owner, amount);
  expect(await decideOnNetbankingPage(added.bankRedirectUrl, 'approve')).toBeLessThan(400);
  expect((await eventually(() => transactionOf(owner, added.id), (row) => row.status === 'COMPLETED')).status).toBe('COMPLETED');
  return added.id;
}

const auditOf = async (transactionId: string) =>
  (await system.pool.query(`SELECT action, outcome, via, reason FROM operator_actions WHERE subject = $1 ORDER BY id`, [transactionId])).rows;

const transactionUpdated = `subscription { transactionUpdated { transaction { id status reversal { returned owed } } } }`;
const walletUpdated = `subscription { walletUpdated { available held } }`;

test('reverseTransfer | the recipient still has the money | all of it back to the sender at once, both see it live; a retry is the same action, a second reversal is refused', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 10_000n), await user('Ravi')];
  const sent = await send(asha, ravi, '4000');
  const sockets = [connect(system.graphqlUrl, asha.token), connect(system.graphqlUrl, ravi.token)];
  const [ashaTransactions, raviTransactions] = sockets.map((socket) => subscribe(socket.client, transactionUpdated));
  const [ashaWallet, raviWallet] = sockets.map((socket) => subscribe(socket.client, walletUpdated));
  await new Promise((resolve) => setTimeout(resolve, 300));

  const actionId = randomUUID();
  const run = await act(operator, 'reverseTransfer', sent, 'sent to the wrong person, confirmed by both', actionId);
  expect(run).toMatchObject({ id: actionId, kind: 'REVERSE_TRANSFER', operator: operator.name, via: 'operator-api', status: 'COMPLETED', result: 'REVERSED', details: { recovered: '4000', owed: '0' } });
  expect(run.payment).toEqual({ id: sent, status: 'COMPLETED', failureCode: null });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 10_000n, held: 0n });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });
  for (const owner of [asha, ravi]) {
    expect(await transactionOf(owner, sent)).toMatchObject({ status: 'COMPLETED', reversal: { amount: '4000', returned: '4000', owed: '0' } });
  }
  // Live: each party's transaction stream carries the reversal, and each wallet its new balance.
  for (const stream of [ashaTransactions!, raviTransactions!]) {
    const events = await stream.waitFor(1);
    expect(events.at(-1)!.transactionUpdated.transaction).toMatchObject({ id: sent, reversal: { returned: '4000', owed: '0' } });
  }
  expect((await ashaWallet!.waitFor(1)).at(-1)!.walletUpdated.available).toBe('10000');
  expect((await raviWallet!.waitFor(1)).at(-1)!.walletUpdated.available).toBe('0');
  for (const socket of sockets) await socket.client.dispose();

  // The same action id again: the same action, run once.
  expect(await act(operator, 'reverseTransfer', sent, 'sent to the wrong person, confirmed by both', actionId)).toMatchObject({ id: actionId, status: 'COMPLETED', result: 'REVERSED' });
  // Another reversal of the same transfer: refused, nothing moves.
  const again = await act(operator, 'reverseTransfer', sent, 'once more');
  expect(again).toMatchObject({ status: 'REFUSED', result: 'ALREADY_REVERSED' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 10_000n, held: 0n });
  // The same id for another action is refused.
  expect(errorCode(await operatorCall(actionMutation('closePayment'), { id: sent, reason: 'x', actionId }, operator.token))).toBe('IDEMPOTENCY_KEY_REUSED');
  expect(await temporal.workflow.getHandle(`operator-${actionId}`).result()).toMatchObject({ status: 'COMPLETED', result: 'REVERSED' });
  expect(await auditOf(sent)).toEqual([
    { action: 'reverse_transfer', outcome: 'requested', via: 'operator-api', reason: 'sent to the wrong person, confirmed by both' },
    { action: 'reverse_transfer', outcome: 'completed', via: 'operator-api', reason: 'sent to the wrong person, confirmed by both' },
    { action: 'reverse_transfer', outcome: 'requested', via: 'operator-api', reason: 'once more' },
    { action: 'reverse_transfer', outcome: 'refused', via: 'operator-api', reason: 'once more' },
  ]);
  const { rows: events } = await system.pool.query(`SELECT kind, outcome, actor FROM security_events WHERE subject = $1 AND kind LIKE 'operator.%' ORDER BY id`, [sent]);
  expect(events).toEqual([
    { kind: 'operator.reverse_transfer', outcome: 'success', actor: `operator:${operator.name}` },
    { kind: 'operator.reverse_transfer', outcome: 'success', actor: `operator:${operator.name}` },
    { kind: 'operator.reverse_transfer', outcome: 'success', actor: `operator:${operator.name}` },
    { kind: 'operator.reverse_transfer', outcome: 'denied', actor: `operator:${operator.name}` },
  ]);
  await expectCleanLedger(system.pool);
});

test('reverseTransfer | the recipient spent most of it | what is left comes back now, the rest is a debt that later incoming transfers settle first', async () => {
  const operator = await newOperator();
  const [asha, ravi, meera] = [await user('Asha', 10_000n), await user('Ravi'), await user('Meera', 10_000n)];
  const sent = await send(asha, ravi, '6000');
  await send(ravi, meera, '5000');
  const run = await act(operator, 'reverseTransfer', sent, 'fraudulent collect request');
  expect(run).toMatchObject({ status: 'COMPLETED', result: 'REVERSED', details: { recovered: '1000', owed: '5000' } });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 5_000n, held: 0n });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });
  expect((await transactionOf(ravi, sent)).reversal).toMatchObject({ amount: '6000', returned: '1000', owed: '5000' });
  const { rows: debts } = await system.pool.query(`SELECT debtor_user_id, creditor_user_id, amount, settled FROM user_debts WHERE transaction_id = $1`, [sent]);
  expect(debts).toEqual([{ debtor_user_id: ravi.id, creditor_user_id: asha.id, amount: 5000n, settled: 0n }]);

  // Money Ravi receives settles his debt first, in the same step that credits him.
  const sockets = [connect(system.graphqlUrl, asha.token)];
  const ashaWallet = subscribe(sockets[0]!.client, walletUpdated);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await send(meera, ravi, '3000');
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 8_000n, held: 0n });
  expect((await ashaWallet.waitFor(1)).at(-1)!.walletUpdated.available).toBe('8000');
  expect((await transactionOf(asha, sent)).reversal).toMatchObject({ returned: '4000', owed: '2000' });
  await send(meera, ravi, '2500');
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 500n, held: 0n });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 10_000n, held: 0n });
  expect((await transactionOf(ravi, sent)).reversal).toMatchObject({ returned: '6000', owed: '0' });
  const { rows: settled } = await system.pool.query(`SELECT settled, settled_at IS NOT NULL AS done FROM user_debts WHERE transaction_id = $1`, [sent]);
  expect(settled).toEqual([{ settled: 5000n, done: true }]);
  const { rows: settlements } = await system.pool.query(
    `SELECT s.seq, s.amount FROM debt_settlements s JOIN user_debts d ON d.id = s.debt_id WHERE d.transaction_id = $1 ORDER BY s.seq`,
    [sent],
  );
  expect(settlements).toEqual([{ seq: 1, amount: 3000n }, { seq: 2, amount: 2000n }]);
  for (const socket of sockets) await socket.client.dispose();
  await expectCleanLedger(system.pool);
});

test('refundOnRamp | a completed on-ramp | held, refunded at the bank, gone from the wallet; a second refund is refused, and one the wallet cannot cover is refused INSUFFICIENT_FUNDS', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha'), await user('Ravi')];
  const added = await completedOnRamp(asha, '7000');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 7_000n, held: 0n });
  const run = await act(operator, 'refundOnRamp', added, 'the user asked for their money back');
  expect(run).toMatchObject({ status: 'COMPLETED', result: 'REFUNDED', details: { amount: '7000' } });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 0n, held: 0n });
  expect(await transactionOf(asha, added)).toMatchObject({ status: 'COMPLETED', refund: { status: 'SUCCEEDED', amount: '7000' } });
  const atBank = await bankCall(system.bankSimUrl!, 'GET', `/v1/refunds?reference=refund-${added}`);
  expect(atBank.body).toMatchObject({ amount: '7000', status: 'succeeded' });
  expect(await act(operator, 'refundOnRamp', added, 'again')).toMatchObject({ status: 'REFUSED', result: 'ALREADY_REFUNDED' });

  // Spent already: refused before anything is held or asked of the bank.
  const spent = await completedOnRamp(asha, '5000');
  await send(asha, ravi, '4500');
  expect(await act(operator, 'refundOnRamp', spent, 'the user asked for their money back')).toMatchObject({ status: 'REFUSED', result: 'INSUFFICIENT_FUNDS' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 500n, held: 0n });
  expect((await bankCall(system.bankSimUrl!, 'GET', `/v1/refunds?reference=refund-${spent}`)).status).toBe(404);
  // Only a completed on-ramp is refunded; a transfer is not an on-ramp at all.
  const transfer = await send(ravi, asha, '100');
  expect(await act(operator, 'refundOnRamp', transfer, 'wrong kind')).toMatchObject({ status: 'REFUSED', result: 'WRONG_KIND' });
  await expectCleanLedger(system.pool);
});

test('retryPayment and closePayment | on-ramps stuck with their workflow gone | retry reconciles with the bank; close cancels at the bank, or completes what the bank completed', async () => {
  const operator = await newOperator();
  const asha = await user('Asha');
  // Webhooks are lost: only an operator's action finds out what the bank did.
  await controlBank(system.bankSimUrl!, { dropRate: 1 });
  try {
    const stuck = async (approve: boolean) => {
      const added = await addMoney(asha, '3000');
      await temporal.workflow.getHandle(`onramp-${added.id}`).terminate('simulated: a lost workflow');
      if (approve) expect(await decideOnNetbankingPage(added.bankRedirectUrl, 'approve')).toBeLessThan(400);
      return added;
    };

    const retried = await stuck(true);
    expect(await act(operator, 'retryPayment', retried.id, 'user says the bank took the money')).toMatchObject({ status: 'COMPLETED', result: 'RECONCILIATION_STARTED' });
    expect((await eventually(() => transactionOf(asha, retried.id), (row) => row.status === 'COMPLETED')).status).toBe('COMPLETED');
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 3_000n, held: 0n });
    expect(await act(operator, 'retryPayment', retried.id, 'again')).toMatchObject({ status: 'REFUSED', result: 'ALREADY_FINAL' });

    // The bank completed it: closing it completes it instead (the bank's word decides).
    const paid = await stuck(true);
    expect(await act(operator, 'closePayment', paid.id, 'stuck for days')).toMatchObject({ status: 'REFUSED', result: 'BANK_COMPLETED', payment: { status: 'COMPLETED' } });
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 6_000n, held: 0n });

    // Not approved: canceled at the bank and closed; the bank's page refuses a late approval.
    const unpaid = await stuck(false);
    const closed = await act(operator, 'closePayment', unpaid.id, 'user abandoned it');
    expect(closed).toMatchObject({ status: 'COMPLETED', result: 'CLOSED', payment: { status: 'FAILED', failureCode: 'CLOSED_BY_OPERATOR' } });
    const { rows } = await system.pool.query(`SELECT bank_payment_id FROM transactions WHERE id = $1`, [unpaid.id]);
    expect((await bankCall(system.bankSimUrl!, 'GET', `/v1/payments/${rows[0].bank_payment_id}`)).body.status).toBe('canceled');
    await decideOnNetbankingPage(unpaid.bankRedirectUrl, 'approve').catch(() => 0);
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 6_000n, held: 0n });
    expect(await act(operator, 'closePayment', unpaid.id, 'again')).toMatchObject({ status: 'REFUSED', result: 'ALREADY_FINAL' });
  } finally {
    await controlBank(system.bankSimUrl!, { dropRate: 0 });
  }
  await expectCleanLedger(system.pool);
}, 90_000);

test('operator actions | a user token, no token | UNAUTHENTICATED; a workflow started with an id no operator asked for | does nothing', async () => {
  const [asha, ravi] = [await user('Asha', 1_000n), await user('Ravi')];
  const sent = await send(asha, ravi, '1000');
  for (const token of [asha.token, undefined]) {
    expect(errorCode(await operatorCall(actionMutation('reverseTransfer'), { id: sent, reason: 'mine' }, token))).toBe('UNAUTHENTICATED');
  }
  const operator = await newOperator();
  expect(errorCode(await operatorCall(actionMutation('reverseTransfer'), { id: randomUUID(), reason: 'none' }, operator.token))).toBe('NOT_FOUND');
  expect(errorCode(await operatorCall(actionMutation('reverseTransfer'), { id: sent, reason: '  ' }, operator.token))).toBe('BAD_USER_INPUT');
  // Anyone who can start workflows cannot make one act: the request must be in the database.
  const forged = randomUUID();
  const result = await temporal.workflow.execute('operatorActionWorkflow', { workflowId: `operator-${forged}`, taskQueue: system.taskQueue, args: [{ actionId: forged }] });
  expect(result).toBeNull();
  const { rows } = await system.pool.query(`SELECT kind, outcome FROM security_events WHERE subject = $1`, [forged]);
  expect(rows).toEqual([{ kind: 'operator.action_unrequested', outcome: 'denied' }]);
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 1_000n, held: 0n });
  await expectCleanLedger(system.pool);
});
