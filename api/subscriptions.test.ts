// Real-time updates over graphql-ws: a real WebSocket client against API processes that are separate
// from the worker process, fed by the PostgreSQL outbox (LISTEN/NOTIFY, then read by cursor).
import { randomUUID } from 'node:crypto';
import { pruneEvents, readEventPages, readEvents } from '../db/events';
import { fundWalletForTesting } from '../db/test-funding';
import { freePort } from '../system/ports';
import { graphql, sendMoneyMutation, signUpUser, type TestUser } from '../test/client';
import { connect, subscribe } from '../test/ws-client';
import { startTestSystem, type TestSystem } from '../test/system';

const transactionUpdated = `subscription($id: ID, $after: String) {
  transactionUpdated(id: $id, after: $after) { eventCursor occurredAt transaction { id status direction amount failureCode } }
}`;
const walletUpdated = `subscription { walletUpdated { currency available held updatedAt } }`;

type TransactionEvent = { transactionUpdated: { eventCursor: string; transaction: { id: string; status: string; direction: string; amount: string } } };
type WalletEvent = { walletUpdated: { available: string; held: string } };

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ env: { GRAPHQL_ALLOWED_ORIGINS: 'https://app.zenpay.example' } });
});
afterAll(async () => {
  await system?.stop();
});

async function fundedUser(name: string, amount: bigint): Promise<TestUser> {
  const user = await signUpUser(system.graphqlUrl, name);
  if (amount > 0n) await fundWalletForTesting(system.pool, user.id, amount);
  return user;
}

async function send(from: TestUser, to: TestUser, amount: string, url = system.graphqlUrl) {
  const response = await graphql(url, sendMoneyMutation, { input: { toPhone: to.phone, amount, idempotencyKey: randomUUID() } }, from.token);
  if (!response.data?.sendMoney) throw new Error(JSON.stringify(response.errors));
  return response.data.sendMoney;
}

const statuses = (events: TransactionEvent[]) => events.map((event) => `${event.transactionUpdated.transaction.id}:${event.transactionUpdated.transaction.status}`);

describe('transactionUpdated and walletUpdated', () => {
  test('a transfer | the sender receives PENDING then COMPLETED, the recipient only COMPLETED, and their wallet changes', async () => {
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const ashaSocket = connect(system.graphqlUrl, asha.token);
    const raviSocket = connect(system.graphqlUrl, ravi.token);
    const ashaTransactions = subscribe<TransactionEvent>(ashaSocket.client, transactionUpdated);
    const raviTransactions = subscribe<TransactionEvent>(raviSocket.client, transactionUpdated);
    const ashaWallet = subscribe<WalletEvent>(ashaSocket.client, walletUpdated);
    const raviWallet = subscribe<WalletEvent>(raviSocket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const sent = await send(asha, ravi, '2500');
    await ashaTransactions.waitFor(2);
    await raviTransactions.waitFor(1);
    expect(statuses(ashaTransactions.events)).toEqual([`${sent.id}:PENDING`, `${sent.id}:COMPLETED`]);
    expect(statuses(raviTransactions.events)).toEqual([`${sent.id}:COMPLETED`]);
    expect(ashaTransactions.events.map((event) => event.transactionUpdated.transaction.direction)).toEqual(['DEBIT', 'DEBIT']);
    expect(raviTransactions.events.map((event) => event.transactionUpdated.transaction.direction)).toEqual(['CREDIT']);
    expect((await ashaWallet.waitFor(1))[0]).toEqual({ walletUpdated: expect.objectContaining({ currency: 'INR', available: '7500', held: '0' }) });
    expect((await raviWallet.waitFor(1))[0]).toEqual({ walletUpdated: expect.objectContaining({ available: '2500', held: '0' }) });
    const cursors = ashaTransactions.events.map((event) => event.transactionUpdated.eventCursor);
    expect(new Set(cursors).size).toBe(2);
    await ashaSocket.client.dispose();
    await raviSocket.client.dispose();
  });

  test('a third user | receives nothing of theirs', async () => {
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const mallory = await fundedUser('Mallory', 0n);
    const socket = connect(system.graphqlUrl, mallory.token);
    const theirs = subscribe<TransactionEvent>(socket.client, transactionUpdated);
    const wallet = subscribe<WalletEvent>(socket.client, walletUpdated);
    const spy = subscribe<TransactionEvent>(socket.client, transactionUpdated, { id: (await send(asha, ravi, '100')).id });
    await send(asha, ravi, '200');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(theirs.events).toEqual([]);
    expect(wallet.events).toEqual([]);
    expect(spy.events).toEqual([]);
    await socket.client.dispose();
  });

  test.each([
    ['no token', null],
    ['a forged token', 'zp_' + 'x'.repeat(43)],
    ['a malformed token', 'Basic abc'],
  ])('%s | the connection is refused', async (_, token) => {
    const socket = connect(system.graphqlUrl, token);
    const closed = await socket.closed;
    expect(closed.code).toBe(4403);
    await socket.client.dispose();
  });

  test('an Origin not on the list | the WebSocket upgrade is refused; a listed one is accepted', async () => {
    const asha = await fundedUser('Asha', 0n);
    const refused = connect(system.graphqlUrl, asha.token, { origin: 'https://evil.example' });
    expect((await refused.closed).code).not.toBe(1000);
    const sub = subscribe(refused.client, walletUpdated);
    await expect(sub.waitFor(1, 2_000)).rejects.toThrow();
    await refused.client.dispose();

    const allowed = connect(system.graphqlUrl, asha.token, { origin: 'https://app.zenpay.example' });
    const wallet = subscribe<WalletEvent>(allowed.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await fundWalletForTesting(system.pool, asha.id, 5n);
    expect((await wallet.waitFor(1))[0]!.walletUpdated.available).toBe('5');
    await allowed.client.dispose();
  });

  test('signOut | closes the open subscriptions of that session', async () => {
    const asha = await fundedUser('Asha', 0n);
    const socket = connect(system.graphqlUrl, asha.token);
    const sub = subscribe(socket.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await graphql(system.graphqlUrl, `mutation { signOut }`, {}, asha.token);
    const closed = await socket.closed;
    expect(closed.code).toBe(4401);
    expect((await sub.ended).code).toBe(4401);
    await socket.client.dispose();
  });

  test('a session that expires | its socket is closed', async () => {
    const asha = await fundedUser('Asha', 0n);
    await system.pool.query(`UPDATE sessions SET expires_at = now() + interval '2 seconds' WHERE user_id = $1`, [asha.id]);
    const socket = connect(system.graphqlUrl, asha.token);
    subscribe(socket.client, walletUpdated);
    const closed = await socket.closed;
    expect(closed.code).toBe(4401);
    await socket.client.dispose();
  });
});

describe('resume', () => {
  test('disconnect, three transfers, reconnect with after | exactly the missed events, then live', async () => {
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const first = connect(system.graphqlUrl, ravi.token);
    const before = subscribe<TransactionEvent>(first.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await send(asha, ravi, '100');
    await before.waitFor(1);
    const cursor = before.events.at(-1)!.transactionUpdated.eventCursor;
    await first.client.dispose();

    const missed = [await send(asha, ravi, '101'), await send(asha, ravi, '102'), await send(asha, ravi, '103')];
    const second = connect(system.graphqlUrl, ravi.token);
    const resumed = subscribe<TransactionEvent>(second.client, transactionUpdated, { after: cursor });
    await resumed.waitFor(3);
    expect(statuses(resumed.events)).toEqual(missed.map((transaction) => `${transaction.id}:COMPLETED`));
    const live = await send(asha, ravi, '104');
    await resumed.waitFor(4);
    expect(statuses(resumed.events).slice(3)).toEqual([`${live.id}:COMPLETED`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(resumed.events).toHaveLength(4);
    await second.client.dispose();
  });

  test('two API instances | a subscriber on each receives the events of a transfer made through the other', async () => {
    const other = await system.startExtraApi();
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const onFirst = connect(system.graphqlUrl, ravi.token);
    const onSecond = connect(other.graphqlUrl, asha.token);
    const raviEvents = subscribe<TransactionEvent>(onFirst.client, transactionUpdated);
    const ashaEvents = subscribe<TransactionEvent>(onSecond.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const viaSecond = await send(asha, ravi, '300', other.graphqlUrl);
    const viaFirst = await send(asha, ravi, '400', system.graphqlUrl);
    await raviEvents.waitFor(2);
    await ashaEvents.waitFor(4);
    expect(statuses(raviEvents.events)).toEqual([`${viaSecond.id}:COMPLETED`, `${viaFirst.id}:COMPLETED`]);
    expect(statuses(ashaEvents.events)).toEqual([`${viaSecond.id}:PENDING`, `${viaSecond.id}:COMPLETED`, `${viaFirst.id}:PENDING`, `${viaFirst.id}:COMPLETED`]);
    await onFirst.client.dispose();
    await onSecond.client.dispose();
    await other.process.close();
  });

  test('the API restarted while the client was away | resume gives every event once', async () => {
    const port = await freePort();
    const api = await system.startExtraApi({ port, name: 'api-restarted' });
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const first = connect(api.graphqlUrl, ravi.token);
    const before = subscribe<TransactionEvent>(first.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seen = await send(asha, ravi, '100');
    await before.waitFor(1);
    const cursor = before.events.at(-1)!.transactionUpdated.eventCursor;
    await api.process.stop();
    await first.client.dispose();

    const whileAway = [await send(asha, ravi, '200'), await send(asha, ravi, '300')];
    await api.process.start();
    const second = connect(api.graphqlUrl, ravi.token);
    const resumed = subscribe<TransactionEvent>(second.client, transactionUpdated, { after: cursor });
    await resumed.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(statuses(resumed.events)).toEqual(whileAway.map((transaction) => `${transaction.id}:COMPLETED`));
    expect(statuses(resumed.events)).not.toContain(`${seen.id}:COMPLETED`);
    await second.client.dispose();
    await api.process.close();
  });

  test('a cursor whose events were pruned | a clear error telling the client to refetch', async () => {
    const asha = await fundedUser('Asha', 10_000n);
    const ravi = await fundedUser('Ravi', 0n);
    const socket = connect(system.graphqlUrl, ravi.token);
    const before = subscribe<TransactionEvent>(socket.client, transactionUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await send(asha, ravi, '100');
    await before.waitFor(1);
    const oldest = before.events[0]!.transactionUpdated.eventCursor;
    await send(asha, ravi, '200');
    await system.pool.query(`UPDATE events SET created_at = now() - interval '8 days' WHERE user_id = $1 AND seq <= 3`, [ravi.id]);
    expect(await pruneEvents(system.pool, new Date(Date.now() - 7 * 24 * 3600 * 1000), 100)).toBeGreaterThan(0);
    const resumed = subscribe(socket.client, transactionUpdated, { after: oldest });
    const ended = await resumed.ended;
    expect(JSON.stringify(ended.error)).toContain('CURSOR_PRUNED');
    expect(JSON.stringify(ended.error)).toMatch(/refetch/);
    await socket.client.dispose();
  });

  test('a forged cursor | BAD_USER_INPUT', async () => {
    const asha = await fundedUser('Asha', 0n);
    const socket = connect(system.graphqlUrl, asha.token);
    const resumed = subscribe(socket.client, transactionUpdated, { after: 'bm90LWEtY3Vyc29y' });
    const ended = await resumed.ended;
    expect(JSON.stringify(ended.error)).toContain('BAD_USER_INPUT');
    await socket.client.dispose();
  });
});

describe('load', () => {
  test('200 concurrent transfers among 10 subscribed users | each receives every final status of theirs exactly once', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, (_, index) => fundedUser(`Load ${index}`, 20_000n)));
    const sockets = users.map((user) => connect(system.graphqlUrl, user.token));
    const subscriptions = sockets.map((socket) => subscribe<TransactionEvent>(socket.client, transactionUpdated));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const plan = Array.from({ length: 200 }, (_, index) => ({ from: users[index % 10]!, to: users[(index * 3 + 1 + Math.floor(index / 10)) % 10]! }))
      .filter((transfer) => transfer.from !== transfer.to);
    const sent = await Promise.all(plan.map((transfer, index) => send(transfer.from, transfer.to, String(100 + index))));
    // Each transfer ends once; the sender must see exactly one final event for it, the recipient one if it COMPLETED.
    const expected = users.map(
      (user) =>
        new Set(
          sent
            .filter((transaction, index) => plan[index]!.from === user || (plan[index]!.to === user && transaction.status !== 'FAILED'))
            .map((transaction) => transaction.id),
        ),
    );
    const deadline = Date.now() + 60_000;
    const finalsOf = (index: number) => subscriptions[index]!.events.filter((event) => ['COMPLETED', 'FAILED'].includes(event.transactionUpdated.transaction.status));
    while (Date.now() < deadline && users.some((_, index) => finalsOf(index).length < expected[index]!.size)) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    users.forEach((_, index) => {
      const finals = finalsOf(index).map((event) => event.transactionUpdated.transaction.id);
      expect(finals.length).toBe(expected[index]!.size);
      expect(new Set(finals)).toEqual(expected[index]);
    });
    for (const socket of sockets) await socket.client.dispose();
  }, 120_000);

  test('one outbox read for many subscribers | each gets exactly the page it would have read alone', async () => {
    const [asha, ravi, quiet] = await Promise.all([fundedUser('Batch A', 50_000n), fundedUser('Batch R', 0n), fundedUser('Batch Q', 0n)]);
    for (const amount of ['101', '102', '103']) await send(asha, ravi, amount);
    const alone = await readEvents(system.pool, asha.id, 0n, 200);
    expect(alone.events.length).toBeGreaterThan(3);
    const requests = [
      { userId: asha.id, afterSeq: 0n, limit: 200 },
      { userId: ravi.id, afterSeq: 0n, limit: 2, kind: 'transaction' as const },
      { userId: asha.id, afterSeq: alone.events[1]!.seq, limit: 200, kind: 'wallet' as const },
      { userId: quiet.id, afterSeq: 0n, limit: 200 },
      { userId: randomUUID(), afterSeq: 0n, limit: 200 },
      { userId: asha.id, afterSeq: alone.events.at(-1)!.seq, limit: 200 },
    ];
    const together = await readEventPages(system.pool, requests);
    const oneByOne = [];
    for (const request of requests) oneByOne.push(await readEvents(system.pool, request.userId, request.afterSeq, request.limit, request.kind));
    expect(together).toEqual(oneByOne);
    expect(together[1]!.events.map((event) => event.kind)).toEqual(['transaction', 'transaction']);
    expect(together[2]!.events.every((event) => event.kind === 'wallet' && event.seq > alone.events[1]!.seq)).toBe(true);
    expect(together[5]!.events).toEqual([]);
  });
});
