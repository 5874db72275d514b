// Payment limits and fraud rules through the real processes (API, worker, bank and SMS simulators,
// Temporal, PostgreSQL) with limits and rules on: each limit refuses one paisa past its boundary with
// LIMIT_EXCEEDED and accepts a payment that reaches it exactly; concurrent payments cannot together pass
// a limit; each rule fires on a scripted pattern and not on an ordinary one (read from fraud_decisions
// and the security event log). Reviews never start here (the score to review is out of reach); the
// review itself is tested in api/operator.test.ts.
import { randomUUID } from 'node:crypto';
import { fundWalletForTesting } from '../db/test-funding';
import { controlBank } from '../test/bank';
import { graphql, signUpUser, walletOf, type GraphQLResponse, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';

// NEW: per payment 100.00, a day 250.00, a month far away, balance cap 1,000.00. VERIFIED: per payment
// 200.00, a day far away, a month 300.00 (so that a month's limit is reached within a day).
const limits = [
  'NEW.PER_PAYMENT_SEND=10000', 'NEW.DAILY_SEND=25000', 'NEW.MONTHLY_SEND=10000000',
  'NEW.PER_PAYMENT_ADD=10000', 'NEW.DAILY_ADD=25000', 'NEW.MONTHLY_ADD=10000000',
  'NEW.PER_PAYMENT_WITHDRAW=10000', 'NEW.DAILY_WITHDRAW=25000', 'NEW.MONTHLY_WITHDRAW=10000000',
  'NEW.BALANCE_CAP=100000',
  'VERIFIED.PER_PAYMENT_SEND=20000', 'VERIFIED.DAILY_SEND=10000000', 'VERIFIED.MONTHLY_SEND=30000',
  'VERIFIED.PER_PAYMENT_ADD=20000', 'VERIFIED.DAILY_ADD=10000000', 'VERIFIED.MONTHLY_ADD=30000',
  'VERIFIED.PER_PAYMENT_WITHDRAW=20000', 'VERIFIED.DAILY_WITHDRAW=10000000', 'VERIFIED.MONTHLY_WITHDRAW=30000',
  'VERIFIED.BALANCE_CAP=10000000',
].join(',');
const rules = [
  'VELOCITY_COUNT.threshold=4', 'VELOCITY_AMOUNT.threshold=20000', 'NEW_PAYEES.threshold=3',
  'FIRST_LARGE_AFTER_SIGN_UP.threshold=9500', 'NEW_SESSION.threshold=1000', 'NEW_SESSION.windowSeconds=3',
  'FAILED_BURST.threshold=3', 'PAYEE_MANY_NEW_SENDERS.threshold=3',
].join(',');

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({
    bankSim: true,
    env: { PAYMENT_LIMITS_ENABLED: 'true', PAYMENT_LIMITS: limits, FRAUD_RULES_ENABLED: 'true', FRAUD_RULES: rules, FRAUD_REVIEW_SCORE: '1000' },
  });
  await controlBank(system.bankSimUrl!, { payoutSettleMs: 200 });
});
afterAll(async () => {
  await system?.stop();
});

const paymentFields = `id status failureCode`;
const mutations = {
  SEND: `mutation($input: SendMoneyInput!) { payment: sendMoney(input: $input) { ${paymentFields} } }`,
  ADD: `mutation($input: AddMoneyInput!) { payment: addMoney(input: $input) { ${paymentFields} } }`,
  WITHDRAW: `mutation($input: WithdrawInput!) { payment: withdraw(input: $input) { ${paymentFields} } }`,
} as const;
type Kind = keyof typeof mutations;

async function user(name: string, funds = 0n, tier: 'NEW' | 'VERIFIED' = 'NEW'): Promise<TestUser> {
  const created = await signUpUser(system.graphqlUrl, name);
  if (funds > 0n) await fundWalletForTesting(system.pool, created.id, funds);
  if (tier === 'VERIFIED') {
    await system.pool.query(`INSERT INTO user_tiers (user_id, tier, set_by, reason) VALUES ($1, 'VERIFIED', 'test', 'test')`, [created.id]);
  }
  return created;
}

function pay(kind: Kind, from: TestUser, amount: string, to?: TestUser): Promise<GraphQLResponse> {
  const idempotencyKey = randomUUID();
  const input =
    kind === 'SEND' ? { toPhone: to!.phone, amount, idempotencyKey }
    : kind === 'ADD' ? { amount, bank: 'HDFC', idempotencyKey }
    : { amount, bank: 'ICICI', bankAccount: '000123456789', idempotencyKey };
  return graphql(system.graphqlUrl, mutations[kind], { input }, from.token);
}

async function accepted(response: GraphQLResponse): Promise<string> {
  expect(response.errors).toBeUndefined();
  expect(['COMPLETED', 'PENDING', 'AWAITING_BANK']).toContain(response.data.payment.status);
  return response.data.payment.id;
}

function refused(response: GraphQLResponse, extensions: Record<string, string>): void {
  expect(response.data).toBeNull();
  expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', ...extensions });
}

/** A payer and (for sends) a payee: funded enough for withdrawals and sends, and under NEW's balance cap. */
async function parties(tier: 'NEW' | 'VERIFIED') {
  return { payer: await user('Payer', 50_000n, tier), payee: await user('Payee') };
}

describe.each(['SEND', 'ADD', 'WITHDRAW'] as const)('limits of %s', (kind) => {
  test(`limits | PER_PAYMENT_${kind} | one paisa over is refused with the limit, the limit itself is accepted`, async () => {
    const { payer, payee } = await parties('NEW');
    refused(await pay(kind, payer, '10001', payee), { limit: `PER_PAYMENT_${kind}`, limitMinor: '10000', usedMinor: '0', amountMinor: '10001', tier: 'NEW' });
    await accepted(await pay(kind, payer, '10000', payee));
  });

  test(`limits | DAILY_${kind} | payments reaching the day's limit exactly are accepted, one paisa more is refused`, async () => {
    const { payer, payee } = await parties('NEW');
    for (const amount of ['10000', '10000', '5000']) await accepted(await pay(kind, payer, amount, payee));
    refused(await pay(kind, payer, '1', payee), { limit: `DAILY_${kind}`, limitMinor: '25000', usedMinor: '25000', tier: 'NEW' });
  });

  test(`limits | MONTHLY_${kind} of a VERIFIED user | reaching the month's limit exactly is accepted, one paisa more is refused`, async () => {
    const { payer, payee } = await parties('VERIFIED');
    for (const amount of ['10000', '10000', '10000']) await accepted(await pay(kind, payer, amount, payee));
    refused(await pay(kind, payer, '1', payee), { limit: `MONTHLY_${kind}`, limitMinor: '30000', usedMinor: '30000', tier: 'VERIFIED' });
  });
});

test('limits | BALANCE_CAP | an on-ramp that fills the wallet to the cap is accepted; one paisa more is refused, counting on-ramps still pending', async () => {
  const asha = await user('Asha', 90_000n);
  await accepted(await pay('ADD', asha, '10000'));
  refused(await pay('ADD', asha, '1'), { limit: 'BALANCE_CAP', limitMinor: '100000', usedMinor: '100000', amountMinor: '1', tier: 'NEW' });
});

test('limits | a refusal | nothing recorded or moved, a limit.refused security event, and a retry of an accepted key is never refused', async () => {
  const { payer, payee } = await parties('NEW');
  const before = await system.pool.query(`SELECT count(*)::int AS n FROM transactions WHERE user_id = $1`, [payer.id]);
  refused(await pay('SEND', payer, '10001', payee), { limit: 'PER_PAYMENT_SEND' });
  const after = await system.pool.query(`SELECT count(*)::int AS n FROM transactions WHERE user_id = $1`, [payer.id]);
  expect(after.rows[0].n).toBe(before.rows[0].n);
  expect(await walletOf(system.graphqlUrl, payer.token)).toEqual({ available: 50_000n, held: 0n });
  const { rows } = await system.pool.query(`SELECT outcome, subject, details FROM security_events WHERE kind = 'limit.refused' AND user_id = $1`, [payer.id]);
  expect(rows).toEqual([{ outcome: 'denied', subject: 'PER_PAYMENT_SEND', details: expect.objectContaining({ limitMinor: '10000', kind: 'TRANSFER' }) }]);
  // The day's limit is reached by one key; the same key again returns that payment, not a refusal.
  const input = { toPhone: payee.phone, amount: '10000', idempotencyKey: randomUUID() };
  for (const amount of ['10000', '5000']) await accepted(await pay('SEND', payer, amount, payee));
  const last = await graphql(system.graphqlUrl, mutations.SEND, { input }, payer.token);
  const again = await graphql(system.graphqlUrl, mutations.SEND, { input }, payer.token);
  expect(again.data.payment.id).toBe(last.data.payment.id);
});

test('limits | five concurrent sends of 100.00 against a day of 250.00 | exactly two pass, three are refused, 200.00 moved', async () => {
  const { payer, payee } = await parties('NEW');
  const responses = await Promise.all(Array.from({ length: 5 }, () => pay('SEND', payer, '10000', payee)));
  expect(responses.filter((response) => response.data?.payment?.status === 'COMPLETED')).toHaveLength(2);
  expect(responses.filter((response) => response.errors?.[0]?.extensions?.code === 'LIMIT_EXCEEDED')).toHaveLength(3);
  expect(await walletOf(system.graphqlUrl, payee.token)).toEqual({ available: 20_000n, held: 0n });
  await expectCleanLedger(system.pool, { heldAllowed: true });
});

/** The names of the rules that fired on a payment, from its fraud decision. */
async function firedOn(transactionId: string): Promise<string[]> {
  const { rows } = await system.pool.query<{ rules: Array<{ name: string }> }>(`SELECT rules FROM fraud_decisions WHERE transaction_id = $1`, [transactionId]);
  expect(rows).toHaveLength(1);
  return rows[0]!.rules.map((rule) => rule.name).sort();
}

const send = async (from: TestUser, to: TestUser, amount: string) => accepted(await pay('SEND', from, amount, to));

test('rules | VELOCITY_COUNT | fires on the fourth send within the window, not on the third', async () => {
  const { payer, payee } = await parties('NEW');
  const ids = [];
  for (let index = 0; index < 4; index++) ids.push(await send(payer, payee, '100'));
  expect(await firedOn(ids[2]!)).toEqual([]);
  expect(await firedOn(ids[3]!)).toEqual(['VELOCITY_COUNT']);
});

test('rules | VELOCITY_AMOUNT | fires once the window\'s sends reach 200.00, not at 160.00', async () => {
  const { payer, payee } = await parties('NEW');
  const first = await send(payer, payee, '8000');
  const second = await send(payer, payee, '8000');
  const third = await send(payer, payee, '5000');
  expect(await firedOn(first)).toEqual([]);
  expect(await firedOn(second)).toEqual([]);
  expect(await firedOn(third)).toEqual(['VELOCITY_AMOUNT']);
});

test('rules | NEW_PAYEES | fires on the third new payee within the window, not on paying a known one again', async () => {
  const payer = await user('Payer', 100_000n);
  const [a, b, c] = [await user('A'), await user('B'), await user('C')];
  await send(payer, a, '100');
  const toB = await send(payer, b, '100');
  const aAgain = await send(payer, a, '100');
  const toC = await send(payer, c, '100');
  expect(await firedOn(toB)).toEqual([]);
  expect(await firedOn(aAgain)).toEqual([]);
  expect(await firedOn(toC)).toEqual(['NEW_PAYEES', 'VELOCITY_COUNT']);
});

test('rules | FIRST_LARGE_AFTER_SIGN_UP | fires on a new user\'s first payment of 95.00 or more, not on a smaller one nor on the second large one', async () => {
  const { payer, payee } = await parties('NEW');
  const small = await send(payer, payee, '5000');
  const large = await send(payer, payee, '9500');
  const secondLarge = await send(payer, payee, '9600');
  expect(await firedOn(small)).toEqual([]);
  expect(await firedOn(large)).toEqual(expect.arrayContaining(['FIRST_LARGE_AFTER_SIGN_UP']));
  expect(await firedOn(large)).toContain('JUST_UNDER_LIMIT');
  expect(await firedOn(secondLarge)).not.toContain('FIRST_LARGE_AFTER_SIGN_UP');
});

test('rules | NEW_SESSION | fires on a payment from a session signed in after sign-up, not from the sign-up session', async () => {
  const { payer, payee } = await parties('NEW');
  const ordinary = await send(payer, payee, '1000');
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  const signedIn = await graphql(system.graphqlUrl, `mutation($input: SignInInput!) { signIn(input: $input) { token } }`, {
    input: { phone: payer.phone, password: 'correct horse battery' },
  });
  const newDevice = await send({ ...payer, token: signedIn.data.signIn.token }, payee, '1000');
  expect(await firedOn(ordinary)).toEqual([]);
  expect(await firedOn(newDevice)).toEqual(['NEW_SESSION']);
});

test('rules | JUST_UNDER_LIMIT | fires on 90% of the per-payment limit or more, not on 89%', async () => {
  const { payer, payee } = await parties('NEW');
  const under = await send(payer, payee, '8900');
  expect(await firedOn(under)).toEqual([]);
  const just = await send((await parties('NEW')).payer, payee, '9000');
  expect(await firedOn(just)).toEqual(['JUST_UNDER_LIMIT']);
});

test('rules | FAILED_BURST | fires after three failed payments within the window, not after two', async () => {
  const payer = await user('Payer');
  const payee = await user('Payee');
  for (let index = 0; index < 2; index++) {
    expect((await pay('SEND', payer, '100', payee)).data.payment).toMatchObject({ status: 'FAILED', failureCode: 'INSUFFICIENT_FUNDS' });
  }
  const third = (await pay('SEND', payer, '100', payee)).data.payment.id;
  expect(await firedOn(third)).toEqual([]);
  await fundWalletForTesting(system.pool, payer.id, 10_000n);
  const after = await send(payer, payee, '100');
  expect(await firedOn(after)).toEqual(expect.arrayContaining(['FAILED_BURST']));
});

test('rules | PAYEE_MANY_NEW_SENDERS | fires on the third new sender to a payee within the window, not on the second', async () => {
  const payee = await user('Merchant');
  const senders = [await user('S1', 10_000n), await user('S2', 10_000n), await user('S3', 10_000n)];
  const ids = [];
  for (const sender of senders) ids.push(await send(sender, payee, '100'));
  expect(await firedOn(ids[1]!)).toEqual([]);
  expect(await firedOn(ids[2]!)).toEqual(['PAYEE_MANY_NEW_SENDERS']);
});

test('rules | every scored payment | a fraud.decision security event with its score and rules; on-ramps are not scored', async () => {
  const { payer, payee } = await parties('NEW');
  const id = await send(payer, payee, '9000');
  const { rows } = await system.pool.query(`SELECT outcome, actor, details FROM security_events WHERE kind = 'fraud.decision' AND subject = $1`, [id]);
  expect(rows).toEqual([{ outcome: 'success', actor: 'system', details: expect.objectContaining({ score: 20, review: false, rules: [expect.objectContaining({ name: 'JUST_UNDER_LIMIT', weight: 20 })] }) }]);
  const added = await accepted(await pay('ADD', payer, '100'));
  expect((await system.pool.query(`SELECT 1 FROM fraud_decisions WHERE transaction_id = $1`, [added])).rowCount).toBe(0);
});
