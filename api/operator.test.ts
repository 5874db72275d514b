// The operator API and fraud review through the real processes (API, worker, bank and SMS simulators,
// Temporal, PostgreSQL), operators created by the real command (scripts/operator.ts, as the app role):
// operator and user credentials never cross; a payment the rules flag waits IN_REVIEW with its money
// held until an operator approves or rejects it (operator API or a Temporal UI signal) or its deadline
// passes; each ends with the right balances and events and no hold left; every action is audited.
import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { developmentAppDatabasePassword } from '../common/development';
import { appDatabaseUrl } from '../db/migrate';
import { fundWalletForTesting } from '../db/test-funding';
import { projectRoot } from '../system/temporal';
import { controlBank } from '../test/bank';
import { errorCode, graphql, latestCode, readCode, signUpUser, walletOf, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';

const reviewTimeoutMs = 15_000;

let system: TestSystem;
let connection: Connection;
let temporal: Client;
beforeAll(async () => {
  system = await startTestSystem({
    bankSim: true,
    env: {
      FRAUD_RULES_ENABLED: 'true',
      // A new user's first payment of 50.00 or more scores 50: review.
      FRAUD_RULES: 'FIRST_LARGE_AFTER_SIGN_UP.threshold=5000',
      FRAUD_REVIEW_SCORE: '50',
      REVIEW_TIMEOUT_MS: String(reviewTimeoutMs),
      // Above 85.00 a payment needs its user's confirmation first (step-up), then the review.
      STEP_UP_AMOUNT_OVER: '8500',
    },
  });
  await controlBank(system.bankSimUrl!, { payoutSettleMs: 200 });
  connection = await Connection.connect({ address: system.temporalAddress });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await system?.stop();
});

const operatorUrl = () => `${system.apiUrl}/operator/graphql`;
const operatorCall = (query: string, variables: Record<string, unknown> = {}, token?: string) => graphql(operatorUrl(), query, variables, token);

/** Runs `npm run operator -- <args>` as the API's database role would, with stdin. */
function operatorCommand(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'scripts', 'operator.ts'), ...args],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: appDatabaseUrl(system.databaseUrl, developmentAppDatabasePassword) } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}

const signInMutation = `mutation($name: String!, $password: String!) { signIn(name: $name, password: $password) { token expiresAt operator { name } } }`;

async function newOperator(): Promise<{ name: string; token: string }> {
  const name = `op-${randomUUID().slice(0, 8)}`;
  const password = `correct horse ${randomUUID()}`;
  const created = await operatorCommand(['create', name], `${password}\n`);
  expect(created).toMatchObject({ code: 0, stdout: expect.stringContaining(`operator ${name} created`) });
  const signedIn = await operatorCall(signInMutation, { name, password });
  return { name, token: signedIn.data.signIn.token };
}

async function user(name: string, funds = 0n): Promise<TestUser> {
  const created = await signUpUser(system.graphqlUrl, name);
  if (funds > 0n) await fundWalletForTesting(system.pool, created.id, funds);
  return created;
}

const paymentFields = 'id status failureCode';
const sendMoney = (from: TestUser, to: TestUser, amount: string) =>
  graphql(system.graphqlUrl, `mutation($input: SendMoneyInput!) { sendMoney(input: $input) { ${paymentFields} } }`, { input: { toPhone: to.phone, amount, idempotencyKey: randomUUID() } }, from.token);
const transactionOf = async (owner: TestUser, id: string) =>
  (await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { ${paymentFields} } }`, { id }, owner.token)).data.transaction;

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The statuses a user's event stream carried for a transaction, in order. */
async function eventStatuses(userId: string, transactionId: string): Promise<string[]> {
  const { rows } = await system.pool.query<{ status: string }>(
    `SELECT payload->>'status' AS status FROM events WHERE user_id = $1 AND transaction_id = $2 AND kind = 'transaction' ORDER BY seq`,
    [userId, transactionId],
  );
  return rows.map((row) => row.status);
}

const decideMutation = `mutation($id: ID!, $decision: ReviewDecision!, $reason: String!) {
  decideReview(transactionId: $id, decision: $decision, reason: $reason) { outcome reviewedBy reason payment { id status } }
}`;
const reviewsQuery = `{ reviews(first: 50) { score deadlineAt rules { name weight value threshold } payment { id kind status amount } user { id phone tier payments(first: 5) { id status } } } }`;

test('operator | created by the command | signs in; a user token is refused on /operator/graphql and the operator token on /graphql', async () => {
  const generated = await operatorCommand(['create', `op-${randomUUID().slice(0, 8)}`]);
  expect(generated.code).toBe(0);
  expect(generated.stdout).toMatch(/password \(shown once, not stored anywhere\): [A-Za-z0-9_-]{24}/);
  expect((await operatorCommand(['create', 'Not A Name'], 'long enough password')).code).toBe(1);
  const operator = await newOperator();
  const asha = await user('Asha', 10_000n);
  const ravi = await user('Ravi');
  expect((await operatorCall('{ me { name } }', {}, operator.token)).data.me.name).toBe(operator.name);
  // A user's token is no operator's, and an operator's token is no user's.
  expect(errorCode(await operatorCall('{ me { name } }', {}, asha.token))).toBe('UNAUTHENTICATED');
  expect(errorCode(await operatorCall(reviewsQuery, {}, asha.token))).toBe('UNAUTHENTICATED');
  expect(errorCode(await graphql(system.graphqlUrl, '{ transactions(first: 1) { edges { node { id } } } }', {}, operator.token))).toBe('UNAUTHENTICATED');
  expect(errorCode(await sendMoney({ ...asha, token: operator.token }, ravi, '100'))).toBe('UNAUTHENTICATED');
  expect((await graphql(system.graphqlUrl, '{ viewer { user { id } } }', {}, operator.token)).data.viewer).toBeNull();
  expect(errorCode(await operatorCall(signInMutation, { name: operator.name, password: 'wrong password!' }))).toBe('UNAUTHENTICATED');
  expect(errorCode(await operatorCall(signInMutation, { name: 'nobody-here', password: 'wrong password!' }))).toBe('UNAUTHENTICATED');
  // Signed out, the token stops working.
  expect((await operatorCall('mutation { signOut }', {}, operator.token)).data.signOut).toBe(true);
  expect(errorCode(await operatorCall('{ me { name } }', {}, operator.token))).toBe('UNAUTHENTICATED');
  // A disabled operator cannot sign in.
  const disabled = await newOperator();
  expect((await operatorCommand(['disable', disabled.name])).code).toBe(0);
  expect(errorCode(await operatorCall('{ me { name } }', {}, disabled.token))).toBe('UNAUTHENTICATED');
});

test('review | a flagged transfer approved by an operator | IN_REVIEW with the amount held and found by ZenpayStatus, then COMPLETED: recipient credited, no hold left', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 100_000n), await user('Ravi')];
  const sent = (await sendMoney(asha, ravi, '6000')).data.sendMoney;
  expect(sent.status).toBe('IN_REVIEW');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 94_000n, held: 6_000n });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });

  const waiting = (await operatorCall(reviewsQuery, {}, operator.token)).data.reviews.find((review: any) => review.payment.id === sent.id);
  expect(waiting).toMatchObject({
    score: 50,
    rules: [{ name: 'FIRST_LARGE_AFTER_SIGN_UP', weight: 50, value: '6000', threshold: '5000' }],
    payment: { kind: 'TRANSFER', status: 'IN_REVIEW', amount: '6000' },
    user: { id: asha.id, phone: asha.phone, tier: 'NEW', payments: [{ id: sent.id, status: 'IN_REVIEW' }] },
  });
  expect(Date.parse(waiting.deadlineAt) - Date.now()).toBeGreaterThan(5_000);
  // What an operator's query in the Temporal UI finds.
  const found = await eventually(
    async () => {
      const ids: string[] = [];
      for await (const execution of temporal.workflow.list({ query: `ZenpayStatus = "IN_REVIEW" AND ZenpayTransactionId = "${sent.id}"` })) ids.push(execution.workflowId);
      return ids;
    },
    (ids) => ids.length > 0,
    15_000,
  );
  expect(found).toEqual([`transfer-${sent.id}`]);

  const decided = await operatorCall(decideMutation, { id: sent.id, decision: 'APPROVE', reason: 'called the user: it is their rent' }, operator.token);
  expect(decided.data.decideReview).toMatchObject({ outcome: 'APPROVED', reviewedBy: `operator:${operator.name}`, reason: 'called the user: it is their rent' });
  const done = await eventually(() => transactionOf(asha, sent.id), (row) => row.status === 'COMPLETED');
  expect(done.status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 94_000n, held: 0n });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 6_000n, held: 0n });
  expect(await eventStatuses(asha.id, sent.id)).toEqual(['IN_REVIEW', 'PENDING', 'COMPLETED']);
  expect(await eventStatuses(ravi.id, sent.id)).toEqual(['COMPLETED']);
  await expectCleanLedger(system.pool);
});

test('review | a flagged transfer rejected | FAILED with REVIEW_REJECTED, the hold released, the recipient never sees it; a second decision is NOT_FOUND', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 100_000n), await user('Ravi')];
  const sent = (await sendMoney(asha, ravi, '7000')).data.sendMoney;
  expect(sent.status).toBe('IN_REVIEW');
  const rejected = await operatorCall(decideMutation, { id: sent.id, decision: 'REJECT', reason: 'the user says it was not them' }, operator.token);
  expect(rejected.data.decideReview).toMatchObject({ outcome: 'REJECTED', payment: { status: 'FAILED' } });
  expect(await transactionOf(asha, sent.id)).toMatchObject({ status: 'FAILED', failureCode: 'REVIEW_REJECTED' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 100_000n, held: 0n });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });
  expect(await transactionOf(ravi, sent.id)).toBeNull();
  expect(await eventStatuses(asha.id, sent.id)).toEqual(['IN_REVIEW', 'FAILED']);
  expect(await eventStatuses(ravi.id, sent.id)).toEqual([]);
  const again = await operatorCall(decideMutation, { id: sent.id, decision: 'APPROVE', reason: 'changed my mind' }, operator.token);
  expect(again.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', status: 'FAILED' });
  expect(errorCode(await operatorCall(decideMutation, { id: sent.id, decision: 'APPROVE', reason: '   ' }, operator.token))).toBe('BAD_USER_INPUT');
  // The workflow ended with the database's word.
  const result = await temporal.workflow.getHandle(`transfer-${sent.id}`).result();
  expect(result).toMatchObject({ status: 'FAILED', failureCode: 'REVIEW_REJECTED' });
  await expectCleanLedger(system.pool);
});

test('review | a decision that arrives after the deadline, before the workflow woke to expire it | the payment is rejected for want of a decision (REVIEW_TIMEOUT), not approved; audited as past_deadline', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 100_000n), await user('Ravi')];
  const sent = (await sendMoney(asha, ravi, '6500')).data.sendMoney;
  expect(sent.status).toBe('IN_REVIEW');
  // The deadline passes; the workflow's timer (reviewTimeoutMs away) has not fired yet.
  await system.pool.query(`UPDATE fraud_decisions SET review_deadline_at = now() - interval '1 second' WHERE transaction_id = $1`, [sent.id]);
  const late = await operatorCall(decideMutation, { id: sent.id, decision: 'APPROVE', reason: 'sorry, I was away' }, operator.token);
  expect(late.errors![0]!.extensions).toMatchObject({ code: 'REVIEW_DEADLINE_PASSED', status: 'FAILED' });
  expect(await transactionOf(asha, sent.id)).toMatchObject({ status: 'FAILED', failureCode: 'REVIEW_TIMEOUT' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 100_000n, held: 0n });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });
  const { rows } = await system.pool.query(`SELECT outcome FROM operator_actions WHERE subject = $1 AND action = 'decide_review'`, [sent.id]);
  expect(rows).toEqual([{ outcome: 'past_deadline' }]);
  // Prompted, the workflow ends with the database's word at once, not at its timer.
  const result = await temporal.workflow.getHandle(`transfer-${sent.id}`).result();
  expect(result).toMatchObject({ status: 'FAILED', failureCode: 'REVIEW_TIMEOUT' });
  await expectCleanLedger(system.pool);
});

test('review | a flagged withdrawal no operator decides | held, then FAILED with REVIEW_TIMEOUT at the deadline and the hold released', async () => {
  const asha = await user('Asha', 100_000n);
  const input = { amount: '8000', bank: 'ICICI', bankAccount: '000123456789', idempotencyKey: randomUUID() };
  const withdrawn = (await graphql(system.graphqlUrl, `mutation($input: WithdrawInput!) { withdraw(input: $input) { ${paymentFields} } }`, { input }, asha.token)).data.withdraw;
  expect(withdrawn.status).toBe('IN_REVIEW');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 92_000n, held: 8_000n });
  const ended = await eventually(() => transactionOf(asha, withdrawn.id), (row) => row.status === 'FAILED', reviewTimeoutMs + 20_000);
  expect(ended).toMatchObject({ status: 'FAILED', failureCode: 'REVIEW_TIMEOUT' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 100_000n, held: 0n });
  expect(await eventStatuses(asha.id, withdrawn.id)).toEqual(['IN_REVIEW', 'FAILED']);
  const { rows } = await system.pool.query(`SELECT kind, outcome FROM security_events WHERE subject = $1 AND kind LIKE 'review.%'`, [withdrawn.id]);
  expect(rows).toEqual([{ kind: 'review.timed_out', outcome: 'failure' }]);
  // Nothing reached the bank.
  const { rows: bank } = await system.pool.query(`SELECT bank_payment_id FROM transactions WHERE id = $1`, [withdrawn.id]);
  expect(bank[0].bank_payment_id).toBeNull();
  await expectCleanLedger(system.pool);
}, 60_000);

test('review | decisions signalled from the Temporal UI | a malformed one and one naming no operator change nothing and are recorded; an operator\'s is recorded under their name and acted on', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 100_000n), await user('Ravi')];
  const sent = (await sendMoney(asha, ravi, '5500')).data.sendMoney;
  expect(sent.status).toBe('IN_REVIEW');
  const handle = temporal.workflow.getHandle(`transfer-${sent.id}`);
  await handle.signal('reviewDecision', { decision: 'maybe', operator: operator.name, reason: 'x' });
  await handle.signal('reviewDecision', { decision: 'approve', operator: 'mallory', reason: 'trust me' });
  const recorded = await eventually(
    async () => (await system.pool.query(`SELECT kind, outcome, actor FROM security_events WHERE subject = $1 AND kind LIKE 'review.signal%' ORDER BY id`, [sent.id])).rows,
    (rows) => rows.length >= 2,
  );
  expect(recorded).toEqual([
    { kind: 'review.signal_malformed', outcome: 'ignored', actor: 'temporal-signal' },
    { kind: 'review.signal_denied', outcome: 'denied', actor: 'temporal-signal:mallory' },
  ]);
  expect((await transactionOf(asha, sent.id)).status).toBe('IN_REVIEW');
  await handle.signal('reviewDecision', { decision: 'approve', operator: operator.name, reason: 'known payee, checked by phone' });
  expect(await handle.result()).toMatchObject({ status: 'COMPLETED' });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 5_500n, held: 0n });
  const { rows } = await system.pool.query(`SELECT operator_name, action, reason, via, outcome FROM operator_actions WHERE subject = $1`, [sent.id]);
  expect(rows).toEqual([{ operator_name: operator.name, action: 'decide_review', reason: 'known payee, checked by phone', via: 'temporal-ui', outcome: 'decided' }]);
  await expectCleanLedger(system.pool);
});

test('operator | security events, audit and tiers | the decision trail is queryable; looking a user up and setting a tier are audited', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 100_000n), await user('Ravi')];
  const sent = (await sendMoney(asha, ravi, '8000')).data.sendMoney;
  await operatorCall(decideMutation, { id: sent.id, decision: 'REJECT', reason: 'velocity pattern of a mule' }, operator.token);
  const events = await operatorCall(`query($user: ID) { securityEvents(userId: $user, first: 20) { kind outcome actor subject details } }`, { user: asha.id }, operator.token);
  const kinds = events.data.securityEvents.map((event: { kind: string; outcome: string }) => `${event.kind}:${event.outcome}`);
  expect(kinds).toEqual(expect.arrayContaining(['fraud.decision:flagged', 'review.decided:success']));
  const decision = events.data.securityEvents.find((event: { kind: string }) => event.kind === 'review.decided');
  expect(decision).toMatchObject({ actor: `operator:${operator.name}`, subject: sent.id });
  expect(JSON.parse(decision.details)).toMatchObject({ decision: 'REJECT', reason: 'velocity pattern of a mule', via: 'operator-api' });

  const found = await operatorCall(`query($phone: String) { user(phone: $phone) { id tier payments(first: 5) { id status failureCode amount } } }`, { phone: asha.phone }, operator.token);
  expect(found.data.user).toMatchObject({ id: asha.id, tier: 'NEW', payments: [{ id: sent.id, status: 'FAILED', failureCode: 'REVIEW_REJECTED', amount: '8000' }] });
  const tiered = await operatorCall(`mutation($id: ID!) { setUserTier(userId: $id, tier: VERIFIED, reason: "documents checked") { tier } }`, { id: asha.id }, operator.token);
  expect(tiered.data.setUserTier.tier).toBe('VERIFIED');
  const actions = await operatorCall(`query($op: String) { operatorActions(operator: $op, first: 20) { action subject reason via outcome } }`, { op: operator.name }, operator.token);
  expect(actions.data.operatorActions.map((action: { action: string }) => action.action)).toEqual(
    expect.arrayContaining(['create_operator', 'sign_in', 'decide_review', 'view_security_events', 'view_user', 'set_user_tier']),
  );
  expect(actions.data.operatorActions.find((action: { action: string }) => action.action === 'set_user_tier')).toMatchObject({ subject: asha.id, reason: 'documents checked', via: 'operator-api' });
  // The audit is append-only, even for the table's owner.
  await expect(system.pool.query(`DELETE FROM operator_actions`)).rejects.toThrow(/append-only/);
});

test('review | a transfer that needs its user\'s confirmation and a review | AWAITING_CONFIRMATION with nothing held; confirmed: IN_REVIEW, held; approved: COMPLETED', async () => {
  const operator = await newOperator();
  const [asha, ravi] = [await user('Asha', 100_000n), await user('Ravi')];
  const signUpCode = await latestCode(system.smsSimUrl, asha.phone);
  const sent = (await sendMoney(asha, ravi, '9000')).data.sendMoney;
  expect(sent.status).toBe('AWAITING_CONFIRMATION');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 100_000n, held: 0n });
  const code = await readCode(system.smsSimUrl, asha.phone, signUpCode);
  const confirmed = await graphql(system.graphqlUrl, `mutation($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { ${paymentFields} } }`, { id: sent.id, code }, asha.token);
  expect(confirmed.data.confirmTransaction.status).toBe('IN_REVIEW');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 91_000n, held: 9_000n });
  const review = (await operatorCall(`query($id: ID!) { review(transactionId: $id) { score deadlineAt rules { name } } }`, { id: sent.id }, operator.token)).data.review;
  expect(review).toMatchObject({ score: 50, rules: [{ name: 'FIRST_LARGE_AFTER_SIGN_UP' }] });
  expect(Date.parse(review.deadlineAt)).toBeGreaterThan(Date.now());
  await operatorCall(decideMutation, { id: sent.id, decision: 'APPROVE', reason: 'confirmed by the user, known payee' }, operator.token);
  expect(await temporal.workflow.getHandle(`transfer-${sent.id}`).result()).toMatchObject({ status: 'COMPLETED' });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 9_000n, held: 0n });
  expect(await eventStatuses(asha.id, sent.id)).toEqual(['AWAITING_CONFIRMATION', 'IN_REVIEW', 'PENDING', 'COMPLETED']);
  await expectCleanLedger(system.pool);
});

test('review | a flagged withdrawal approved | held while in review, then paid out by the bank: COMPLETED, the money gone, no hold left', async () => {
  const operator = await newOperator();
  const asha = await user('Asha', 100_000n);
  const input = { amount: '6000', bank: 'SBI', bankAccount: '000111222333', idempotencyKey: randomUUID() };
  const withdrawn = (await graphql(system.graphqlUrl, `mutation($input: WithdrawInput!) { withdraw(input: $input) { ${paymentFields} } }`, { input }, asha.token)).data.withdraw;
  expect(withdrawn.status).toBe('IN_REVIEW');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 94_000n, held: 6_000n });
  await operatorCall(decideMutation, { id: withdrawn.id, decision: 'APPROVE', reason: 'their own account, checked' }, operator.token);
  const done = await eventually(() => transactionOf(asha, withdrawn.id), (row) => row.status === 'COMPLETED');
  expect(done.status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 94_000n, held: 0n });
  await expectCleanLedger(system.pool);
});
