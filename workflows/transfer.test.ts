// P2P transfers end to end: GraphQL mutation -> API process -> Temporal workflow -> worker process ->
// PostgreSQL ledger. Real processes and sockets; seed money comes through the ledger's test account.
import { Client, Connection } from '@temporalio/client';
import { hostname } from 'node:os';
import { fundWalletForTesting } from '../db/test-funding';
import { systemAccountId } from '../db/ledger';
import { withTransaction } from '../db/pool';
import { submitTransaction } from '../db/transactions';
import {
  errorCode,
  graphql,
  randomPhone,
  sendMoneyMutation,
  signUpUser,
  transactionFields,
  walletOf,
  type TestUser,
} from '../test/client';
import { expectCleanLedger } from '../test/ledger-checks';
import { startTestSystem, type TestSystem } from '../test/system';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(async () => {
  await system?.stop();
});

let keyCounter = 0;
const newKey = () => `key-${Date.now()}-${keyCounter++}`;

async function send(from: TestUser, to: TestUser | string, amount: unknown, extra: Record<string, unknown> = {}) {
  const toPhone = typeof to === 'string' ? to : to.phone;
  return graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone, amount, idempotencyKey: newKey(), ...extra } }, from.token);
}

async function fundedUser(name: string, amount: bigint): Promise<TestUser> {
  const user = await signUpUser(system.graphqlUrl, name);
  if (amount > 0n) await fundWalletForTesting(system.pool, user.id, amount);
  return user;
}

const transactionCount = async () =>
  Number((await system.pool.query('SELECT count(*)::int AS count FROM transactions')).rows[0].count);

async function waitForFinal(token: string, id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { ${transactionFields} } }`, { id }, token);
    const transaction = response.data?.transaction;
    if (transaction && ['COMPLETED', 'FAILED', 'EXPIRED'].includes(transaction.status)) return transaction;
    if (Date.now() > deadline) throw new Error(`transaction ${id} not final: ${JSON.stringify(response)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('sendMoney', () => {
  test('transfer | enough money | moves exactly the amount; sender sees DEBIT, recipient CREDIT', async () => {
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const response = await send(asha, ravi, '2550', { note: 'chai' });
    expect(response.errors).toBeUndefined();
    const sent = response.data.sendMoney;
    expect(sent).toMatchObject({ kind: 'TRANSFER', status: 'COMPLETED', direction: 'DEBIT', amount: '2550', currency: 'INR', note: 'chai', failureCode: null });
    expect(sent.counterparty).toBe(`Ravi (${ravi.phone})`);
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 7_450n, held: 0n });
    expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 2_550n, held: 0n });

    const received = await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { ${transactionFields} } }`, { id: sent.id }, ravi.token);
    expect(received.data.transaction).toMatchObject({ id: sent.id, direction: 'CREDIT', status: 'COMPLETED', counterparty: `Asha (${asha.phone})` });
    const { rows } = await system.pool.query('SELECT amount FROM ledger_transfers WHERE transaction_id = $1', [sent.id]);
    expect(rows).toEqual([{ amount: 2550n }]);
    await expectCleanLedger(system.pool);
  });

  test('transfer | insufficient funds | FAILED with INSUFFICIENT_FUNDS and no balance changes', async () => {
    const asha = await fundedUser('Asha', 1_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const response = await send(asha, ravi, '1001');
    expect(response.data.sendMoney).toMatchObject({ status: 'FAILED', failureCode: 'INSUFFICIENT_FUNDS' });
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 1_000n, held: 0n });
    expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 0n, held: 0n });
    const { rowCount } = await system.pool.query('SELECT 1 FROM ledger_transfers WHERE transaction_id = $1', [response.data.sendMoney.id]);
    expect(rowCount).toBe(0);
  });

  const badInputs: Array<[string, (to: TestUser, self: TestUser) => Record<string, unknown>]> = [
    ['zero amount', (to) => ({ toPhone: to.phone, amount: '0' })],
    ['negative amount', (to) => ({ toPhone: to.phone, amount: '-100' })],
    ['fractional amount', (to) => ({ toPhone: to.phone, amount: '10.50' })],
    ['exponent amount', (to) => ({ toPhone: to.phone, amount: '1e3' })],
    ['leading zero', (to) => ({ toPhone: to.phone, amount: '0100' })],
    ['16 digits', (to) => ({ toPhone: to.phone, amount: '1234567890123456' })],
    ['a number instead of a string', (to) => ({ toPhone: to.phone, amount: 100 })],
    ['unicode digits', (to) => ({ toPhone: to.phone, amount: '١٠٠' })],
    ['self-transfer', (_, self) => ({ toPhone: self.phone, amount: '100' })],
    ['unknown recipient', () => ({ toPhone: randomPhone(), amount: '100' })],
    ['malformed recipient phone', () => ({ toPhone: '98765 43210', amount: '100' })],
    ['note of 141 characters', (to) => ({ toPhone: to.phone, amount: '100', note: 'n'.repeat(141) })],
    ['empty idempotency key', (to) => ({ toPhone: to.phone, amount: '100', idempotencyKey: '' })],
    ['idempotency key of 256 characters', (to) => ({ toPhone: to.phone, amount: '100', idempotencyKey: 'k'.repeat(256) })],
  ];
  test.each(badInputs)('transfer | %s | BAD_USER_INPUT and nothing created', async (_, build) => {
    const asha = await fundedUser('Asha', 5_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const before = await transactionCount();
    const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { idempotencyKey: newKey(), ...build(ravi, asha) } }, asha.token);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.message.length).toBeGreaterThan(10);
    expect(await transactionCount()).toBe(before);
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 5_000n, held: 0n });
  });

  test('transfer | no session | UNAUTHENTICATED and nothing created', async () => {
    const ravi = await fundedUser('Ravi', 0n);
    const before = await transactionCount();
    const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: ravi.phone, amount: '100', idempotencyKey: newKey() } });
    expect(errorCode(response)).toBe('UNAUTHENTICATED');
    expect(await transactionCount()).toBe(before);
  });

  test('idempotency | the same request 5 times at once | one transaction and one movement', async () => {
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const input = { toPhone: ravi.phone, amount: '700', note: 'rent share', idempotencyKey: newKey() };
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => graphql(system.graphqlUrl, sendMoneyMutation, { input }, asha.token)),
    );
    const ids = new Set(responses.map((response) => response.data?.sendMoney?.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(responses.map((response) => response.data.sendMoney.status)).toEqual(Array(5).fill('COMPLETED'));
    const { rows } = await system.pool.query('SELECT amount FROM ledger_transfers WHERE transaction_id = $1', [id]);
    expect(rows).toEqual([{ amount: 700n }]);
    expect(await walletOf(system.graphqlUrl, asha.token)).toEqual({ available: 9_300n, held: 0n });

    const reused = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { ...input, amount: '701' } }, asha.token);
    expect(errorCode(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    const reusedNote = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { ...input, note: 'other' } }, asha.token);
    expect(errorCode(reusedNote)).toBe('IDEMPOTENCY_KEY_REUSED');
    // Keys are scoped to the user: Ravi may use the same key for his own transfer.
    await fundWalletForTesting(system.pool, ravi.id, 100n);
    const ravisOwn = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { ...input, toPhone: asha.phone, amount: '50' } }, ravi.token);
    expect(ravisOwn.data.sendMoney.status).toBe('COMPLETED');
  });

  test('concurrency | 300 random transfers among 10 users, both directions at once | no error, no negative wallet, total unchanged', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, (_, index) => fundedUser(`User ${index}`, 5_000n)));
    const pairs: Array<[TestUser, TestUser]> = [];
    for (let index = 0; index < 300; index++) {
      const from = users[index % 10]!;
      const to = users[(index * 7 + 3) % 10] === from ? users[(index + 1) % 10]! : users[(index * 7 + 3) % 10]!;
      pairs.push(index % 2 === 0 ? [from, to] : [to, from]);
    }
    const responses = await Promise.all(pairs.map(([from, to], index) => send(from, to, String(100 + ((index * 37) % 1_900)))));
    for (const response of responses) expect(response.errors).toBeUndefined();
    const finals = await Promise.all(responses.map((response, index) => waitForFinal(pairs[index]![0].token, response.data.sendMoney.id)));
    for (const transaction of finals) expect(['COMPLETED', 'FAILED']).toContain(transaction.status);
    expect(finals.filter((transaction) => transaction.status === 'FAILED').every((transaction) => transaction.failureCode === 'INSUFFICIENT_FUNDS')).toBe(true);
    const balances = await Promise.all(users.map((user) => walletOf(system.graphqlUrl, user.token)));
    for (const balance of balances) expect(balance.available).toBeGreaterThanOrEqual(0n);
    expect(balances.reduce((sum, balance) => sum + balance.available, 0n)).toBe(50_000n);
    // Every COMPLETED transfer has exactly one ledger movement; every FAILED one has none.
    const { rows } = await system.pool.query(
      `SELECT t.status, count(l.id)::int AS movements FROM transactions t LEFT JOIN ledger_transfers l ON l.transaction_id = t.id
       WHERE t.user_id = ANY($1::uuid[]) GROUP BY t.id, t.status`,
      [users.map((user) => user.id)],
    );
    for (const row of rows) expect(row.movements).toBe(row.status === 'COMPLETED' ? 1 : 0);
    await expectCleanLedger(system.pool);
  });

  test('crash | worker killed in the middle of transfers and started again | every transfer finishes exactly once', async () => {
    const asha = await fundedUser('Asha', 100_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const inFlight = Promise.all(Array.from({ length: 40 }, () => send(asha, ravi, '1000')));
    await new Promise((resolve) => setTimeout(resolve, 150));
    await system.worker.kill();
    // With no worker, mutations answer PENDING after their bounded wait; a few finished before the kill.
    const more = await Promise.all(Array.from({ length: 10 }, () => send(asha, ravi, '1000')));
    const responses = [...(await inFlight), ...more];
    for (const response of more) expect(response.data.sendMoney.status).toBe('PENDING');
    await system.worker.start();
    const finals = await Promise.all(responses.map((response) => waitForFinal(asha.token, response.data.sendMoney.id)));
    expect(finals.map((transaction) => transaction.status)).toEqual(Array(50).fill('COMPLETED'));
    expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 50_000n, held: 0n });
    const { rows } = await system.pool.query(
      `SELECT count(*)::int AS movements, count(DISTINCT transaction_id)::int AS transactions FROM ledger_transfers
       WHERE debit_account_id = (SELECT id FROM ledger_accounts WHERE user_id = $1)`,
      [asha.id],
    );
    expect(rows[0]).toEqual({ movements: 50, transactions: 50 });
    await expectCleanLedger(system.pool);
  }, 180_000);

  test('reconciler | a transaction recorded without its workflow (API crashed), right after a worker crash | still completes', async () => {
    const asha = await fundedUser('Asha', 1_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const id = '01900000-0000-7000-8000-' + Date.now().toString(16).padStart(12, '0').slice(-12);
    await submitTransaction(system.pool, {
      id,
      kind: 'TRANSFER',
      userId: asha.id,
      counterpartyUserId: ravi.id,
      amount: 300n,
      note: null,
      idempotencyKey: newKey(),
      requestFingerprint: Buffer.alloc(32),
      bank: null,
      bankAccount: null,
    });
    const final = await waitForFinal(asha.token, id, 60_000);
    expect(final.status).toBe('COMPLETED');
    expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 300n, held: 0n });
  });
});

describe('ledger', () => {
  test('a system account first used by 10 transactions at once | one account, and every caller gets its id', async () => {
    const name = `RACE${Date.now()}`;
    const ids = await Promise.all(
      Array.from({ length: 10 }, () => withTransaction(system.pool, (client) => systemAccountId(client, 'bank_clearing', name))),
    );
    expect(new Set(ids.map(String)).size).toBe(1);
    const { rows } = await system.pool.query('SELECT count(*)::int AS count FROM ledger_accounts WHERE code = $1', [`bank_clearing:${name}`]);
    expect(rows[0].count).toBe(1);
  });
});

describe('privacy', () => {
  test("another user's transaction | by id or in a list | null and absent, never an error", async () => {
    const asha = await fundedUser('Asha', 1_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const mallory = await fundedUser('Mallory', 0n);
    const sent = (await send(asha, ravi, '100')).data.sendMoney;
    const byId = await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { id } }`, { id: sent.id }, mallory.token);
    expect(byId.errors).toBeUndefined();
    expect(byId.data.transaction).toBeNull();
    const missing = await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { id } }`, { id: '01900000-0000-7000-8000-000000000000' }, mallory.token);
    expect(missing).toEqual(byId);
    const list = await graphql(system.graphqlUrl, `{ transactions(first: 100) { edges { node { id } } } }`, {}, mallory.token);
    expect(list.data.transactions.edges).toEqual([]);
  });
});

describe('transactions', () => {
  test('list | newest first with keyset pages and filters | every transaction once, in order', async () => {
    const asha = await fundedUser('Asha', 100_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const ids: string[] = [];
    for (let index = 0; index < 7; index++) ids.push((await send(asha, ravi, String(100 + index))).data.sendMoney.id);
    ids.push((await send(asha, ravi, '999999999')).data.sendMoney.id); // fails: insufficient funds
    await fundWalletForTesting(system.pool, ravi.id, 10n);
    ids.push((await send(ravi, asha, '5')).data.sendMoney.id);

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const response: any = await graphql(
        system.graphqlUrl,
        `query($after: String) { transactions(first: 4, after: $after) { edges { cursor node { id direction } } pageInfo { hasNextPage endCursor } } }`,
        { after },
        asha.token,
      );
      const connection = response.data.transactions;
      seen.push(...connection.edges.map((edge: any) => edge.node.id));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());

    const failed = await graphql(system.graphqlUrl, `{ transactions(first: 10, filter: { status: FAILED }) { edges { node { id failureCode } } } }`, {}, asha.token);
    expect(failed.data.transactions.edges).toEqual([{ node: { id: ids[7], failureCode: 'INSUFFICIENT_FUNDS' } }]);
    const transfers = await graphql(system.graphqlUrl, `{ transactions(first: 100, filter: { kind: TRANSFER }) { edges { node { id } } } }`, {}, ravi.token);
    // Ravi never sees Asha's failed attempt (a recipient sees a transfer only once money moved).
    expect(transfers.data.transactions.edges).toHaveLength(8);
    const onRamps = await graphql(system.graphqlUrl, `{ transactions(first: 100, filter: { kind: ON_RAMP }) { edges { node { id } } } }`, {}, ravi.token);
    expect(onRamps.data.transactions.edges).toEqual([]);
  });

  test.each([0, 101, -1])('list | first = %i | BAD_USER_INPUT', async (first) => {
    const asha = await fundedUser('Asha', 0n);
    const response = await graphql(system.graphqlUrl, `query($first: Int) { transactions(first: $first) { edges { cursor } } }`, { first }, asha.token);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
  });

  test('list | a forged cursor | BAD_USER_INPUT', async () => {
    const asha = await fundedUser('Asha', 0n);
    const response = await graphql(system.graphqlUrl, `{ transactions(first: 5, after: "bm9wZQ") { edges { cursor } } }`, {}, asha.token);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
  });
});

describe('eager start (API_EAGER_START)', () => {
  test('an API that runs a worker too | its transfers are handed to its own worker by the start itself and complete exactly once', async () => {
    const eager = await system.startExtraApi({ name: 'api-eager', env: { API_EAGER_START: 'true' } });
    const connection = await Connection.connect({ address: system.temporalAddress });
    try {
      const asha = await fundedUser('Asha', 50_000n);
      const ravi = await fundedUser('Ravi', 0n);
      const sent = [];
      // Five of them: were they matched as usual, the other worker polling the same queue would get about half.
      for (const amount of ['1000', '2000', '3000', '4000', '5000']) {
        const response = await graphql(eager.graphqlUrl, sendMoneyMutation, { input: { toPhone: ravi.phone, amount, idempotencyKey: newKey() } }, asha.token);
        expect(response.data.sendMoney).toMatchObject({ status: 'COMPLETED' });
        sent.push(response.data.sendMoney.id as string);
      }
      const client = new Client({ connection });
      for (const id of sent) {
        const history = await client.workflow.getHandle(`transfer-${id}`).fetchHistory();
        const firstTask = history.events!.find((event) => event.workflowTaskStartedEventAttributes)!;
        // The first workflow task went to the API process's own worker (its identity is pid@host).
        expect(firstTask.workflowTaskStartedEventAttributes!.identity).toBe(`${eager.process.pid}@${hostname()}`);
      }
      expect(await walletOf(system.graphqlUrl, ravi.token)).toEqual({ available: 15_000n, held: 0n });
      await expectCleanLedger(system.pool);
    } finally {
      await connection.close();
      await eager.process.close();
    }
  }, 120_000);
});
