// The analytics and statement extensions through real API, worker, bank simulator and PostgreSQL
// processes: payments of every kind made through the public API (and backdated ledger movements written
// by the test as the database's owner, to cover days, weeks, months and time zones), checked against
// sums worked out by hand in this file.
import { randomUUID } from 'node:crypto';
import { fundWalletForTesting } from '../db/test-funding';
import { decideOnNetbankingPage } from '../test/bank';
import { errorCode, graphql, sendMoneyMutation, signUpUser, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ bankSim: true });
});
afterAll(async () => {
  await system?.stop();
});

const flow = `moneyIn moneyOut count`;
const analyticsQuery = `query($from: DateTime!, $to: DateTime!, $granularity: AnalyticsGranularity, $timeZone: String) {
  analytics(from: $from, to: $to, granularity: $granularity, timeZone: $timeZone) {
    granularity timeZone totals { ${flow} } series { start flow { ${flow} } }
    byKind { kind flow { ${flow} } } byCounterparty { counterparty flow { ${flow} } } topPayees { name phone amount count }
  }
}`;
const statementQuery = `query($month: String!, $timeZone: String) {
  statement(month: $month, timeZone: $timeZone) {
    month from to openingBalance closingBalance moneyIn moneyOut entriesTruncated
    entries { at transactionId kind counterparty note moneyIn moneyOut balanceAfter }
  }
}`;

async function finalStatus(token: string, id: string): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    const { data } = await graphql(system.graphqlUrl, `query($id: ID!) { transaction(id: $id) { status } }`, { id }, token);
    const status = data?.transaction?.status;
    if (['COMPLETED', 'FAILED', 'EXPIRED'].includes(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`transaction ${id} never ended`);
}

async function send(from: TestUser, to: TestUser, amount: string, note = 'test'): Promise<string> {
  const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: to.phone, amount, note, idempotencyKey: randomUUID() } }, from.token);
  if (!response.data?.sendMoney) throw new Error(JSON.stringify(response.errors));
  return finalStatus(from.token, response.data.sendMoney.id);
}

const money = (value: bigint | number) => String(value);

describe('analytics through the public API', () => {
  let asha: TestUser;
  let ravi: TestUser;
  let meera: TestUser;
  beforeAll(async () => {
    [asha, ravi, meera] = await Promise.all([
      signUpUser(system.graphqlUrl, 'Asha Analyst'),
      signUpUser(system.graphqlUrl, 'Ravi Payee'),
      signUpUser(system.graphqlUrl, 'Meera Payee'),
    ]);
    await fundWalletForTesting(system.pool, asha.id, 100_000n);
    await fundWalletForTesting(system.pool, ravi.id, 10_000n);
    const added = await graphql(system.graphqlUrl, `mutation($input: AddMoneyInput!) { addMoney(input: $input) { id status bankRedirectUrl } }`,
      { input: { amount: '50000', bank: 'HDFC', idempotencyKey: randomUUID() } }, asha.token);
    expect(added.data.addMoney.status).toBe('AWAITING_BANK');
    await decideOnNetbankingPage(added.data.addMoney.bankRedirectUrl, 'approve');
    expect(await finalStatus(asha.token, added.data.addMoney.id)).toBe('COMPLETED');
    expect(await send(asha, ravi, '12050', 'lunch')).toBe('COMPLETED');
    expect(await send(asha, ravi, '3000')).toBe('COMPLETED');
    expect(await send(asha, meera, '7000')).toBe('COMPLETED');
    expect(await send(ravi, asha, '2500')).toBe('COMPLETED');
    // Money that did not move is no part of any figure.
    expect(await send(asha, meera, '999999999')).toBe('FAILED');
    const withdrawn = await graphql(system.graphqlUrl, `mutation($input: WithdrawInput!) { withdraw(input: $input) { id } }`,
      { input: { amount: '10000', bank: 'ICICI', bankAccount: '000123456789', idempotencyKey: randomUUID() } }, asha.token);
    expect(await finalStatus(asha.token, withdrawn.data.withdraw.id)).toBe('COMPLETED');
  });

  test('analytics | every kind of payment today | totals, kinds, counterparties and payees equal the sums by hand', async () => {
    const now = Date.now();
    const response = await graphql(system.graphqlUrl, analyticsQuery, {
      from: new Date(now - 86_400_000).toISOString(), to: new Date(now + 86_400_000).toISOString(), granularity: 'DAY', timeZone: 'UTC',
    }, asha.token);
    expect(response.errors).toBeUndefined();
    const analytics = response.data.analytics;
    // In: 1,000.00 seed + 500.00 HDFC + 25.00 from Ravi. Out: 120.50 + 30.00 to Ravi, 70.00 to Meera, 100.00 to ICICI.
    expect(analytics.totals).toEqual({ moneyIn: money(100_000 + 50_000 + 2_500), moneyOut: money(12_050 + 3_000 + 7_000 + 10_000), count: 7 });
    expect(analytics.byKind).toEqual([
      { kind: 'OFF_RAMP', flow: { moneyIn: '0', moneyOut: '10000', count: 1 } },
      { kind: 'ON_RAMP', flow: { moneyIn: '50000', moneyOut: '0', count: 1 } },
      { kind: 'TRANSFER', flow: { moneyIn: '2500', moneyOut: money(12_050 + 3_000 + 7_000), count: 4 } },
      { kind: null, flow: { moneyIn: '100000', moneyOut: '0', count: 1 } },
    ]);
    expect(analytics.byCounterparty).toEqual([
      { counterparty: 'ZenPAY', flow: { moneyIn: '100000', moneyOut: '0', count: 1 } },
      { counterparty: 'HDFC', flow: { moneyIn: '50000', moneyOut: '0', count: 1 } },
      { counterparty: `Ravi Payee (${ravi.phone})`, flow: { moneyIn: '2500', moneyOut: money(15_050), count: 3 } },
      { counterparty: 'ICICI', flow: { moneyIn: '0', moneyOut: '10000', count: 1 } },
      { counterparty: `Meera Payee (${meera.phone})`, flow: { moneyIn: '0', moneyOut: '7000', count: 1 } },
    ]);
    expect(analytics.topPayees).toEqual([
      { name: 'Ravi Payee', phone: ravi.phone, amount: '15050', count: 2 },
      { name: 'Meera Payee', phone: meera.phone, amount: '7000', count: 1 },
    ]);
    // Three UTC days touch the 48 hours; all of it happened in one of them.
    expect(analytics.series.length).toBeGreaterThanOrEqual(2);
    expect(analytics.series.length).toBeLessThanOrEqual(3);
    const busy = analytics.series.filter((bucket: { flow: { count: number } }) => bucket.flow.count > 0);
    expect(busy).toHaveLength(1);
    expect(busy[0].flow).toEqual(analytics.totals);
    // Ravi's view of the same money: what he received and sent, no more.
    const ravis = await graphql(system.graphqlUrl, analyticsQuery, { from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 3_600_000).toISOString() }, ravi.token);
    expect(ravis.data.analytics.totals).toEqual({ moneyIn: money(10_000 + 12_050 + 3_000), moneyOut: '2500', count: 4 });
    expect(ravis.data.analytics.topPayees).toEqual([{ name: 'Asha Analyst', phone: asha.phone, amount: '2500', count: 1 }]);
  });

  test('statement | this month | opening 0, every movement with its running balance, closing = the wallet', async () => {
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kolkata', year: 'numeric', month: '2-digit' }).format(new Date()).slice(0, 7);
    const response = await graphql(system.graphqlUrl, statementQuery, { month }, asha.token);
    expect(response.errors).toBeUndefined();
    const statement = response.data.statement;
    expect(statement).toMatchObject({ month, openingBalance: '0', moneyIn: '152500', moneyOut: '32050', closingBalance: '120450', entriesTruncated: false });
    expect(statement.entries).toHaveLength(7);
    expect(statement.entries.at(-1).balanceAfter).toBe('120450');
    let balance = 0n;
    for (const entry of statement.entries) {
      balance += BigInt(entry.moneyIn) - BigInt(entry.moneyOut);
      expect(entry.balanceAfter).toBe(String(balance));
    }
    expect(statement.entries.find((entry: { note: string | null }) => entry.note === 'lunch')).toMatchObject({ kind: 'TRANSFER', moneyOut: '12050', counterparty: `Ravi Payee (${ravi.phone})` });
    const wallet = await graphql(system.graphqlUrl, `{ viewer { wallet { available held } } }`, {}, asha.token);
    expect(wallet.data.viewer.wallet).toEqual({ available: '120450', held: '0' });
  });

  test('analytics | bad period, time zone or no session | BAD_USER_INPUT or UNAUTHENTICATED, nothing computed', async () => {
    const ask = (variables: Record<string, unknown>, token: string | undefined = asha.token) => graphql(system.graphqlUrl, analyticsQuery, variables, token);
    const tooLong = await ask({ from: '2025-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' });
    expect(tooLong.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
    expect(errorCode(await ask({ from: '2026-01-02T00:00:00Z', to: '2026-01-02T00:00:00Z' }))).toBe('BAD_USER_INPUT');
    expect((await ask({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', timeZone: "UTC'; SELECT 1; --" })).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'timeZone' });
    expect(errorCode(await ask({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, ''))).toBe('UNAUTHENTICATED');
    expect(errorCode(await graphql(system.graphqlUrl, statementQuery, { month: '2026-13' }, asha.token))).toBe('BAD_USER_INPUT');
  });
});

describe('analytics over days, weeks, months and time zones', () => {
  // Backdated posted movements of one wallet, written directly as the database's owner (the public API
  // cannot move money in the past). 2026-01-31 is a Saturday, 2026-02-02 a Monday.
  const movements: Array<[string, 'in' | 'out', bigint]> = [
    ['2026-01-30T20:00:00Z', 'in', 100_000n], //  Jan 31 01:30 in Kolkata; Jan 30 in UTC
    ['2026-01-31T19:00:00Z', 'out', 25_075n], // Feb 1 00:30 in Kolkata; Jan 31 in UTC
    ['2026-02-02T10:00:00Z', 'out', 1_000n], //   Monday Feb 2 everywhere
    ['2026-02-27T20:00:00Z', 'in', 5_050n], //    Feb 28 01:30 in Kolkata
  ];
  let user: TestUser;
  beforeAll(async () => {
    user = await signUpUser(system.graphqlUrl, 'Backdated User');
    await fundWalletForTesting(system.pool, user.id, 1n, randomUUID());
    const { rows: [accounts] } = await system.pool.query(
      `SELECT (SELECT id FROM ledger_accounts WHERE user_id = $1) AS wallet, (SELECT id FROM ledger_accounts WHERE kind = 'test_funding' LIMIT 1) AS funding`, [user.id]);
    for (const [at, direction, amount] of movements) {
      const [debit, credit] = direction === 'in' ? [accounts.funding, accounts.wallet] : [accounts.wallet, accounts.funding];
      await system.pool.query(`INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, kind, created_at) VALUES ($1, $2, $3, $4, 'posted', $5)`,
        [randomUUID(), debit, credit, amount, at]);
    }
  });
  const period = { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' };
  const series = async (granularity: string, timeZone: string) => {
    const response = await graphql(system.graphqlUrl, analyticsQuery, { ...period, granularity, timeZone }, user.token);
    expect(response.errors).toBeUndefined();
    return response.data.analytics.series as Array<{ start: string; flow: { moneyIn: string; moneyOut: string; count: number } }>;
  };
  const busy = (buckets: Awaited<ReturnType<typeof series>>) =>
    buckets.filter((bucket) => bucket.flow.count > 0).map((bucket) => [bucket.start, bucket.flow.moneyIn, bucket.flow.moneyOut]);

  test('MONTH | Kolkata and UTC | the movement near midnight falls in the month of the time zone asked', async () => {
    expect(busy(await series('MONTH', 'Asia/Kolkata'))).toEqual([
      ['2025-12-31T18:30:00.000Z', '100000', '0'],
      ['2026-01-31T18:30:00.000Z', '5050', '26075'],
    ]);
    expect(busy(await series('MONTH', 'UTC'))).toEqual([
      ['2026-01-01T00:00:00.000Z', '100000', '25075'],
      ['2026-02-01T00:00:00.000Z', '5050', '1000'],
    ]);
  });

  test('DAY and WEEK | every bucket of the period is there, weeks start on Monday', async () => {
    const days = await series('DAY', 'UTC');
    expect(days).toHaveLength(31 + 28);
    expect(busy(days).map(([start]) => start)).toEqual(['2026-01-30T00:00:00.000Z', '2026-01-31T00:00:00.000Z', '2026-02-02T00:00:00.000Z', '2026-02-27T00:00:00.000Z']);
    const weeks = await series('WEEK', 'Asia/Kolkata');
    // Mon Dec 29 (the week holding Jan 1) to Mon Feb 23: nine weeks.
    expect(weeks[0]!.start).toBe('2025-12-28T18:30:00.000Z');
    expect(weeks).toHaveLength(9);
    expect(busy(weeks)).toEqual([
      ['2026-01-25T18:30:00.000Z', '100000', '25075'],
      ['2026-02-01T18:30:00.000Z', '0', '1000'],
      ['2026-02-22T18:30:00.000Z', '5050', '0'],
    ]);
  });

  test('statement | February in Kolkata | opens with January movements, closes with the sum by hand', async () => {
    const response = await graphql(system.graphqlUrl, statementQuery, { month: '2026-02', timeZone: 'Asia/Kolkata' }, user.token);
    expect(response.errors).toBeUndefined();
    expect(response.data.statement).toMatchObject({
      from: '2026-01-31T18:30:00.000Z', to: '2026-02-28T18:30:00.000Z',
      openingBalance: '100000', moneyIn: '5050', moneyOut: '26075', closingBalance: String(100_000 + 5_050 - 26_075),
    });
    expect(response.data.statement.entries.map((entry: { balanceAfter: string }) => entry.balanceAfter)).toEqual(['74925', '73925', '78975']);
  });
});
