// Step-up confirmation of payments through the real processes (API, worker, SMS and bank simulators,
// Temporal, PostgreSQL) with the step-up policy on: above the threshold, to a new payee, or to a new
// bank account, a payment waits in AWAITING_CONFIRMATION until its code; a code confirms only its own
// payment; wrong codes are limited; an unconfirmed payment expires and releases its hold.
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { fundWalletForTesting } from '../db/test-funding';
import { controlBank } from '../test/bank';
import { errorCode, graphql, readCode, signUpUser, transactionFields, walletOf, type TestUser } from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';

const confirmationTtlSeconds = 30;

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({
    bankSim: true,
    env: {
      STEP_UP_AMOUNT_OVER: '100000',
      STEP_UP_NEW_PAYEE: 'true',
      STEP_UP_NEW_BANK_ACCOUNT: 'true',
      PAYMENT_CONFIRMATION_TTL_SECONDS: String(confirmationTtlSeconds),
      PAYMENT_CONFIRMATION_ATTEMPTS_MAX: '3',
    },
  });
  await controlBank(system.bankSimUrl!, { payoutSettleMs: 200 });
});
afterAll(async () => {
  await system?.stop();
});

const fields = `${transactionFields} confirmation { method expiresAt attemptsLeft }`;
const sendMutation = `mutation($input: SendMoneyInput!) { sendMoney(input: $input) { ${fields} } }`;
const withdrawMutation = `mutation($input: WithdrawInput!) { withdraw(input: $input) { ${fields} } }`;
const confirmMutation = `mutation($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { ${fields} } }`;
const transactionQuery = `query($id: ID!) { transaction(id: $id) { ${fields} } }`;

async function funded(name: string, amount: bigint): Promise<TestUser> {
  const user = await signUpUser(system.graphqlUrl, name);
  if (amount > 0n) await fundWalletForTesting(system.pool, user.id, amount);
  return user;
}

const send = (from: TestUser, to: TestUser, amount: string, idempotencyKey = randomUUID()) =>
  graphql(system.graphqlUrl, sendMutation, { input: { toPhone: to.phone, amount, idempotencyKey } }, from.token);
const confirm = (user: TestUser, id: string, code: string) => graphql(system.graphqlUrl, confirmMutation, { id, code }, user.token);
const smsCode = (user: TestUser, unlike: string | null = null) => readCode(system.smsSimUrl, user.phone, unlike);

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('step-up | first payment to a new payee | AWAITING_CONFIRMATION, nothing moves until the SMS code confirms it; the next payment to them goes straight through', async () => {
  const [asha, ravi] = [await funded('Asha', 50_000n), await funded('Ravi', 0n)];
  const { data } = await send(asha, ravi, '2500');
  const pending = data.sendMoney;
  expect(pending).toMatchObject({ status: 'AWAITING_CONFIRMATION', confirmation: { method: 'SMS', attemptsLeft: 3 } });
  const code = await smsCode(asha, null);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 50_000n, held: 0n });
  const confirmed = await confirm(asha, pending.id, code);
  expect(confirmed.data.confirmTransaction).toMatchObject({ id: pending.id, status: 'COMPLETED', confirmation: null });
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 2_500n, held: 0n });
  // The same code again changes nothing (the payment is no longer waiting).
  expect((await confirm(asha, pending.id, code)).data.confirmTransaction.status).toBe('COMPLETED');
  expect((await send(asha, ravi, '1000')).data.sendMoney.status).toBe('COMPLETED');
});

test('step-up | a code confirms only its own payment; another amount needs a new challenge', async () => {
  const [asha, ravi] = [await funded('Asha', 500_000n), await funded('Ravi', 0n)];
  // Ravi becomes a known payee, so from then on only the amount threshold (1,000.00) applies.
  const first = (await send(asha, ravi, '100')).data.sendMoney;
  const firstCode = await smsCode(asha);
  expect((await confirm(asha, first.id, firstCode)).data.confirmTransaction.status).toBe('COMPLETED');
  const big = (await send(asha, ravi, '150000')).data.sendMoney;
  expect(big.status).toBe('AWAITING_CONFIRMATION');
  const bigCode = await smsCode(asha, firstCode);
  const other = (await send(asha, ravi, '160000')).data.sendMoney;
  const otherCode = await smsCode(asha, bigCode);
  // The first payment's code does not confirm the second (another amount, another challenge).
  const crossed = await confirm(asha, other.id, bigCode);
  expect(errorCode(crossed)).toBe('BAD_USER_INPUT');
  expect(crossed.errors![0]!.extensions!.attemptsLeft).toBe(2);
  expect((await graphql(system.graphqlUrl, transactionQuery, { id: other.id }, asha.token)).data.transaction.status).toBe('AWAITING_CONFIRMATION');
  expect((await confirm(asha, other.id, otherCode)).data.confirmTransaction.status).toBe('COMPLETED');
  expect((await confirm(asha, big.id, bigCode)).data.confirmTransaction.status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 310_100n, held: 0n });
});

test('step-up | three wrong codes | the payment ends FAILED with CONFIRMATION_FAILED and nothing moved', async () => {
  const [asha, ravi] = [await funded('Asha', 10_000n), await funded('Ravi', 0n)];
  const pending = (await send(asha, ravi, '700')).data.sendMoney;
  const right = await smsCode(asha);
  const wrong = right === '000000' ? '111111' : '000000';
  expect((await confirm(asha, pending.id, wrong)).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', attemptsLeft: 2 });
  expect((await confirm(asha, pending.id, wrong)).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', attemptsLeft: 1 });
  expect((await confirm(asha, pending.id, wrong)).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CONFIRMATION_FAILED' });
  // Too late for the right code now.
  const late = await confirm(asha, pending.id, right);
  expect(late.data.confirmTransaction).toMatchObject({ status: 'FAILED', failureCode: 'CONFIRMATION_FAILED' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 10_000n, held: 0n });
});

test("step-up | another user's code or payment | NOT_FOUND and nothing changes", async () => {
  const [asha, ravi, mallory] = [await funded('Asha', 10_000n), await funded('Ravi', 0n), await funded('Mallory', 0n)];
  const pending = (await send(asha, ravi, '300')).data.sendMoney;
  const code = await smsCode(asha);
  expect(errorCode(await confirm(mallory, pending.id, code))).toBe('NOT_FOUND');
  expect(errorCode(await confirm(asha, randomUUID(), code))).toBe('NOT_FOUND');
  expect(errorCode(await confirm(asha, pending.id, 'x'.repeat(10_000)))).toBe('BAD_USER_INPUT');
  expect((await graphql(system.graphqlUrl, transactionQuery, { id: pending.id }, asha.token)).data.transaction.confirmation.attemptsLeft).toBe(3);
});

test('step-up | a withdrawal to a new bank account never confirmed | held at once, EXPIRED with CONFIRMATION_EXPIRED and the hold released', async () => {
  const asha = await funded('Asha', 10_000n);
  const input = { amount: '4000', bank: 'ICICI', bankAccount: '000999888777', idempotencyKey: randomUUID() };
  const pending = (await graphql(system.graphqlUrl, withdrawMutation, { input }, asha.token)).data.withdraw;
  expect(pending.status).toBe('AWAITING_CONFIRMATION');
  const held = await eventually(() => walletOf(system.graphqlUrl, asha.token), (wallet) => wallet.held === 4_000n, 10_000);
  expect(held).toEqual({ available: 6_000n, held: 4_000n });
  const ended = await eventually(
    async () => (await graphql(system.graphqlUrl, transactionQuery, { id: pending.id }, asha.token)).data.transaction,
    (transaction) => transaction.status === 'EXPIRED',
    (confirmationTtlSeconds + 20) * 1000,
  );
  expect(ended).toMatchObject({ status: 'EXPIRED', failureCode: 'CONFIRMATION_EXPIRED' });
  expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 10_000n, held: 0n });
});

test('step-up | a withdrawal confirmed | paid out once; the next one to the same account needs no confirmation', async () => {
  const asha = await funded('Asha', 10_000n);
  const input = { amount: '2000', bank: 'SBI', bankAccount: '000111222333', idempotencyKey: randomUUID() };
  const pending = (await graphql(system.graphqlUrl, withdrawMutation, { input }, asha.token)).data.withdraw;
  expect(pending.status).toBe('AWAITING_CONFIRMATION');
  expect((await confirm(asha, pending.id, await smsCode(asha))).errors).toBeUndefined();
  const done = await eventually(
    async () => (await graphql(system.graphqlUrl, transactionQuery, { id: pending.id }, asha.token)).data.transaction,
    (transaction) => transaction.status === 'COMPLETED',
  );
  expect(done.status).toBe('COMPLETED');
  const again = (await graphql(system.graphqlUrl, withdrawMutation, { input: { ...input, idempotencyKey: randomUUID() } }, asha.token)).data.withdraw;
  expect(again.status).not.toBe('AWAITING_CONFIRMATION');
  await expectCleanLedger(system.pool, { heldAllowed: true });
});

test('step-up with TOTP | signed up through the SMS simulator, authenticator enrolled | a payment above the threshold is confirmed by its code; the same code cannot confirm a second payment of another amount, which needs its own', async () => {
  const [asha, ravi] = [await funded('Asha', 1_000_000n), await funded('Ravi', 0n)];
  const secret = (await graphql(system.graphqlUrl, 'mutation { startTwoFactorEnrollment { otpauthUri secret } }', {}, asha.token)).data.startTwoFactorEnrollment.secret;
  const codeAt = (offsetSteps: number) =>
    TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + offsetSteps * 30_000 });
  const enrolled = await graphql(system.graphqlUrl, 'mutation($code: String!) { confirmTwoFactorEnrollment(code: $code) { recoveryCodes } }', { code: codeAt(0) }, asha.token);
  const recoveryCodes: string[] = enrolled.data.confirmTwoFactorEnrollment.recoveryCodes;
  expect(recoveryCodes).toHaveLength(10);

  const first = (await send(asha, ravi, '150000')).data.sendMoney;
  expect(first).toMatchObject({ status: 'AWAITING_CONFIRMATION', confirmation: { method: 'TOTP' } });
  // The enrolment used this time step; the authenticator's next code is the one a person would type.
  const code = codeAt(1);
  expect((await confirm(asha, first.id, code)).data.confirmTransaction.status).toBe('COMPLETED');

  const second = (await send(asha, ravi, '170000')).data.sendMoney;
  expect(second).toMatchObject({ status: 'AWAITING_CONFIRMATION', confirmation: { method: 'TOTP', attemptsLeft: 3 } });
  const reused = await confirm(asha, second.id, code);
  expect(reused.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code', attemptsLeft: 2 });
  expect((await graphql(system.graphqlUrl, transactionQuery, { id: second.id }, asha.token)).data.transaction.status).toBe('AWAITING_CONFIRMATION');
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 150_000n, held: 0n });
  // Its own confirmation (here a recovery code, as the next time step is up to 30 s away) releases it.
  expect((await confirm(asha, second.id, recoveryCodes[0]!)).data.confirmTransaction.status).toBe('COMPLETED');
  expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 320_000n, held: 0n });
});
