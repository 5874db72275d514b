// What a counterparty may learn, through real API, worker and PostgreSQL processes: a recipient sees a
// transfer only once money moved (queries, the subscription stream and the outbox itself), a failed
// payment never tells the sender whose the phone is, and payee is the explicit, masked way to ask.
import { randomUUID } from 'node:crypto';
import { fundWalletForTesting } from '../db/test-funding';
import { errorCode, graphql, randomPhone, sendMoneyMutation, signUpUser, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';
import { connect, subscribe } from '../test/ws-client';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(async () => {
  await system?.stop();
});

const historyQuery = `query($id: ID!) { transaction(id: $id) { id status note counterparty } transactions(first: 50) { edges { node { id status note failureCode } } } }`;
const transactionUpdated = `subscription { transactionUpdated { transaction { id status note failureCode } } }`;

async function send(from: TestUser, to: TestUser, amount: string, note: string) {
  const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: to.phone, amount, note, idempotencyKey: randomUUID() } }, from.token);
  if (!response.data?.sendMoney) throw new Error(JSON.stringify(response.errors));
  return response.data.sendMoney;
}

describe('privacy of transfers', () => {
  test('a failed sendMoney | nothing in the recipient history, event stream or outbox, and no name for the sender', async () => {
    const asha = await signUpUser(system.graphqlUrl, 'Asha Sender');
    const ravi = await signUpUser(system.graphqlUrl, 'Ravi Recipient');
    const socket = connect(system.graphqlUrl, ravi.token);
    const stream = subscribe(socket.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const failed = await send(asha, ravi, '500', 'rent, you owe me');
    expect(failed).toMatchObject({ status: 'FAILED', failureCode: 'INSUFFICIENT_FUNDS', counterparty: ravi.phone });
    expect(failed.counterparty).not.toContain('Ravi');

    const seen = await graphql(system.graphqlUrl, historyQuery, { id: failed.id }, ravi.token);
    expect(seen.data.transaction).toBeNull();
    expect(seen.data.transactions.edges).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(stream.events).toEqual([]);
    const { rows } = await system.pool.query(`SELECT kind FROM events WHERE user_id = $1 AND transaction_id = $2`, [ravi.id, failed.id]);
    expect(rows).toEqual([]);
    // The sender still sees their own attempt in full.
    const own = await graphql(system.graphqlUrl, historyQuery, { id: failed.id }, asha.token);
    expect(own.data.transaction).toMatchObject({ status: 'FAILED', note: 'rent, you owe me' });
    await socket.client.dispose();
  });

  test('a completed sendMoney | the recipient sees it once, COMPLETED, with note and the sender name', async () => {
    const asha = await signUpUser(system.graphqlUrl, 'Asha Payer');
    const ravi = await signUpUser(system.graphqlUrl, 'Ravi Payee');
    await fundWalletForTesting(system.pool, asha.id, 1_000n);
    const socket = connect(system.graphqlUrl, ravi.token);
    const stream = subscribe(socket.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const completed = await send(asha, ravi, '500', 'lunch');
    expect(completed).toMatchObject({ status: 'COMPLETED', counterparty: `Ravi Payee (${ravi.phone})` });
    await stream.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stream.events).toEqual([{ transactionUpdated: { transaction: { id: completed.id, status: 'COMPLETED', note: 'lunch', failureCode: null } } }]);
    const seen = await graphql(system.graphqlUrl, historyQuery, { id: completed.id }, ravi.token);
    expect(seen.data.transaction).toMatchObject({ status: 'COMPLETED', note: 'lunch', counterparty: `Asha Payer (${asha.phone})` });
    expect(seen.data.transactions.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([completed.id]);
    await socket.client.dispose();
  });

  test('payee | a known phone, an unknown one, a malformed one | the masked name, null, BAD_USER_INPUT', async () => {
    const asha = await signUpUser(system.graphqlUrl, 'Asha');
    const ravi = await signUpUser(system.graphqlUrl, 'Ravi Kumar');
    const payee = `query($phone: String!) { payee(phone: $phone) { phone maskedName } }`;
    expect((await graphql(system.graphqlUrl, payee, { phone: ravi.phone }, asha.token)).data.payee).toEqual({ phone: ravi.phone, maskedName: 'R*** K****' });
    expect((await graphql(system.graphqlUrl, payee, { phone: randomPhone() }, asha.token)).data.payee).toBeNull();
    expect(errorCode(await graphql(system.graphqlUrl, payee, { phone: '98765' }, asha.token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await graphql(system.graphqlUrl, payee, { phone: ravi.phone }))).toBe('UNAUTHENTICATED');
  });
});
