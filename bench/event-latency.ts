// Measures how long an outbox event takes from its ledger commit to a graphql-ws subscriber, at rest
// (one transfer at a time) and under load (200 concurrent transfers among 10 subscribed users).
// Starts its own system (embedded PostgreSQL, Temporal dev server, worker and API processes).
// Usage: npm run bench:events
import { randomUUID } from 'node:crypto';
import { createPool } from '../db/pool';
import { fundWalletForTesting } from '../db/test-funding';
import { generousRateLimits } from '../system/generous-limits';
import { startLocalStack } from '../system/stack';
import { graphql, sendMoneyMutation, signUpUser, type TestUser } from '../test/client';
import { connect, subscribe } from '../test/ws-client';
import { summarize, table } from './stats';

type Event = { transactionUpdated: { occurredAt: string; transaction: { id: string; status: string } } };
const subscription = `subscription { transactionUpdated { occurredAt transaction { id status } } }`;

async function main(): Promise<void> {
  const stack = await startLocalStack({
    prefix: 'zenpay-bench',
    temporalPersistent: false,
    serviceEnv: { LOG_LEVEL: 'warn', ...generousRateLimits },
    progress: (message) => console.log(`[bench] ${message}`),
  });
  const pool = createPool({ connectionString: stack.databaseUrl, max: 4, applicationName: 'zenpay-bench' });
  try {
    const users: TestUser[] = [];
    for (let index = 0; index < 10; index++) users.push(await signUpUser(stack.urls.graphql, `Bench ${index}`, stack.urls.smsSim));
    for (const user of users) await fundWalletForTesting(pool, user.id, 10_000_000n);
    const latenciesMs: number[] = [];
    const sockets = users.map((user) => connect(stack.urls.graphql, user.token));
    const subscriptions = sockets.map((socket) => subscribe<Event>(socket.client, subscription));
    const record = (subscriptionIndex: number, from: number) => {
      for (const event of subscriptions[subscriptionIndex]!.events.slice(from)) latenciesMs.push(Date.now() - Date.parse(event.transactionUpdated.occurredAt));
    };
    // Latency is taken when each event arrives: poll the collected events with a fine timer.
    const seen = subscriptions.map(() => 0);
    const sampler = setInterval(() => {
      subscriptions.forEach((sub, index) => {
        if (sub.events.length > seen[index]!) {
          record(index, seen[index]!);
          seen[index] = sub.events.length;
        }
      });
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const send = (from: TestUser, to: TestUser, amount: string) =>
      graphql(stack.urls.graphql, sendMoneyMutation, { input: { toPhone: to.phone, amount, idempotencyKey: randomUUID() } }, from.token);

    console.log('[bench] at rest: 50 transfers, one at a time');
    for (let index = 0; index < 50; index++) {
      await send(users[index % 10]!, users[(index + 1) % 10]!, '100');
      process.stdout.write(`\r[bench] ${index + 1}/50`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const atRest = summarize(latenciesMs.splice(0));

    console.log('\n[bench] under load: 200 concurrent transfers among 10 users');
    await Promise.all(Array.from({ length: 200 }, (_, index) => send(users[index % 10]!, users[(index * 3 + 1) % 10]!, '100')));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const underLoad = summarize(latenciesMs.splice(0));
    clearInterval(sampler);

    console.log('\nDelivery latency, ledger commit -> graphql-ws subscriber (ms):\n');
    console.log(
      table(
        ['phase', 'events', 'p50', 'p90', 'p99', 'max'],
        [
          ['at rest (1 transfer at a time)', atRest.count, atRest.p50, atRest.p90, atRest.p99, atRest.max],
          ['under load (200 concurrent)', underLoad.count, underLoad.p50, underLoad.p90, underLoad.p99, underLoad.max],
        ],
      ),
    );
    for (const socket of sockets) await socket.client.dispose();
  } finally {
    await pool.end();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
