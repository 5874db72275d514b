// Sessions and the sockets bound to them, through real API processes over HTTP and real WebSockets:
// listing and revoking sessions, signing out everywhere, changing the password; sockets re-checked
// when a revocation's announcement was lost; and the limits and errors of graphql-ws operations.
import { randomBytes, randomUUID } from 'node:crypto';
import { fundWalletForTesting } from '../db/test-funding';
import { errorCode, graphql, signUpUser, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';
import { connect, subscribe } from '../test/ws-client';

const walletUpdated = `subscription { walletUpdated { available } }`;
const sessionsQuery = `{ sessions { id createdAt lastUsedAt expiresAt clientAddress userAgent current } }`;
const signInMutation = `mutation($input: SignInInput!) { signIn(input: $input) { token } }`;
const password = 'correct horse battery';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(async () => {
  await system?.stop();
});

async function signInAgain(user: TestUser, userAgent = 'ZenPAY-test/1.0'): Promise<string> {
  const response = await fetch(system.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': userAgent },
    body: JSON.stringify({ query: signInMutation, variables: { input: { phone: user.phone, password } } }),
  });
  const body = (await response.json()) as { data: { signIn: { token: string } } };
  return body.data.signIn.token;
}

const works = async (token: string) => (await graphql(system.graphqlUrl, `{ viewer { user { id } } }`, {}, token)).data?.viewer !== null;

describe('sessions', () => {
  test('sessions | signed up and signed in again | both listed with address and user agent, the current one marked', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const second = await signInAgain(user, 'Mozilla/5.0 (test)');
    const response = await graphql(system.graphqlUrl, sessionsQuery, {}, second);
    expect(response.errors).toBeUndefined();
    const sessions = response.data.sessions;
    expect(sessions).toHaveLength(2);
    expect(sessions[0]).toMatchObject({ clientAddress: '127.0.0.1', userAgent: 'Mozilla/5.0 (test)', current: true, lastUsedAt: expect.any(String) });
    expect(sessions[1]).toMatchObject({ clientAddress: '127.0.0.1', current: false });
    expect(JSON.stringify(sessions)).not.toContain(second);
  });

  test('revokeSession | one of mine | that token stops working; another user’s id or an unknown one | false, nothing revoked', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const other = await signUpUser(system.graphqlUrl);
    const second = await signInAgain(user);
    const mine = (await graphql(system.graphqlUrl, sessionsQuery, {}, user.token)).data.sessions;
    const secondId = mine.find((session: { current: boolean }) => !session.current).id;
    const theirs = (await graphql(system.graphqlUrl, sessionsQuery, {}, other.token)).data.sessions[0].id;
    expect((await graphql(system.graphqlUrl, `mutation($id: ID!) { revokeSession(id: $id) }`, { id: theirs }, user.token)).data.revokeSession).toBe(false);
    expect(await works(other.token)).toBe(true);
    expect((await graphql(system.graphqlUrl, `mutation($id: ID!) { revokeSession(id: $id) }`, { id: randomUUID() }, user.token)).data.revokeSession).toBe(false);
    expect((await graphql(system.graphqlUrl, `mutation($id: ID!) { revokeSession(id: $id) }`, { id: secondId }, user.token)).data.revokeSession).toBe(true);
    expect(await works(second)).toBe(false);
    expect(await works(user.token)).toBe(true);
    const { rows } = await system.pool.query(`SELECT kind, outcome, client_address AS "clientAddress" FROM security_events WHERE user_id = $1 AND kind = 'auth.session_revoked'`, [user.id]);
    expect(rows).toEqual([{ kind: 'auth.session_revoked', outcome: 'success', clientAddress: '127.0.0.1' }]);
  });

  test('signOutEverywhere | three sessions and an open socket | all stop working, the socket closes 4401', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const tokens = [user.token, await signInAgain(user), await signInAgain(user)];
    const socket = connect(system.graphqlUrl, tokens[2]!);
    subscribe(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await graphql(system.graphqlUrl, `mutation { signOutEverywhere }`, {}, tokens[0]!)).data.signOutEverywhere).toBe(3);
    expect((await socket.closed).code).toBe(4401);
    for (const token of tokens) expect(await works(token)).toBe(false);
    await socket.client.dispose();
  });

  test('changePassword | wrong current password | BAD_USER_INPUT and nothing changes; right one | the others revoked, their socket closed', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const other = await signInAgain(user);
    const socket = connect(system.graphqlUrl, other);
    subscribe(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const change = (currentPassword: string) =>
      graphql(system.graphqlUrl, `mutation($input: ChangePasswordInput!) { changePassword(input: $input) }`, { input: { currentPassword, newPassword: 'a brand new password' } }, user.token);
    const wrong = await change('not my password');
    expect(wrong.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currentPassword' });
    expect(await works(other)).toBe(true);
    expect((await change(password)).data.changePassword).toBe(1);
    expect((await socket.closed).code).toBe(4401);
    expect(await works(other)).toBe(false);
    expect(await works(user.token)).toBe(true);
    expect(errorCode(await graphql(system.graphqlUrl, signInMutation, { input: { phone: user.phone, password } }))).toBe('UNAUTHENTICATED');
    expect((await graphql(system.graphqlUrl, signInMutation, { input: { phone: user.phone, password: 'a brand new password' } })).data.signIn.token).toMatch(/^zp_/);
    const { rows } = await system.pool.query(`SELECT outcome FROM security_events WHERE user_id = $1 AND kind = 'auth.password_changed' ORDER BY id`, [user.id]);
    expect(rows.map((row) => row.outcome)).toEqual(['failure', 'success']);
    await socket.client.dispose();
  });
});

describe('sockets bound to sessions', () => {
  test('a revocation whose announcement is lost (LISTEN connection killed) | the socket closes after the reconnect', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const socket = connect(system.graphqlUrl, user.token);
    subscribe(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // One SQL transaction: the API's LISTEN connection dies and the session is revoked without a NOTIFY
    // (as a sign-out committed while no LISTEN was in place: its announcement reaches nobody).
    await system.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zenpay-api-listen' AND datname = current_database()`);
    await system.pool.query(`UPDATE sessions SET revoked_at = now() WHERE user_id = $1`, [user.id]);
    const started = Date.now();
    expect((await socket.closed).code).toBe(4401);
    expect(Date.now() - started).toBeLessThan(10_000);
    await socket.client.dispose();
  });

  test('a revocation never announced | the periodic re-check (2 s here) closes the socket', async () => {
    const api = await system.startExtraApi({ name: 'api-recheck', env: { SESSION_RECHECK_INTERVAL_MS: '2000' } });
    const user = await signUpUser(system.graphqlUrl);
    const socket = connect(api.graphqlUrl, user.token);
    subscribe(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await system.pool.query(`UPDATE sessions SET revoked_at = now() WHERE user_id = $1`, [user.id]);
    const started = Date.now();
    expect((await socket.closed).code).toBe(4401);
    expect(Date.now() - started).toBeLessThan(4_000);
    await socket.client.dispose();
    await api.process.close();
  });
});

/**
 * What a production API demands (common/config.ts): a database login of its own in the application role,
 * the bank's own webhook secret, its own code and two-factor keys, introspection off.
 */
async function productionEnvironment(role: string): Promise<NodeJS.ProcessEnv> {
  const password = randomBytes(16).toString('hex');
  await system.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE zenpay_app`);
  const databaseUrl = new URL(system.databaseUrl);
  databaseUrl.username = role;
  databaseUrl.password = password;
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl.toString(),
    BANK_WEBHOOK_SECRETS: `whsec_${randomBytes(32).toString('base64')}`,
    PHONE_CODE_SECRET: randomBytes(32).toString('hex'),
    TWO_FACTOR_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GRAPHQL_INTROSPECTION: 'false',
  };
}

describe('graphql-ws operations', () => {
  let limited: string;
  let production: Awaited<ReturnType<TestSystem['startExtraApi']>>;
  const productionRole = `zenpay_test_production_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    limited = (await system.startExtraApi({ name: 'api-ws-limits', env: { WS_SUBSCRIPTIONS_PER_SOCKET_MAX: '3', WS_SOCKETS_PER_USER_MAX: '2' } })).graphqlUrl;
    production = await system.startExtraApi({ name: 'api-ws-production', env: await productionEnvironment(productionRole) });
  });
  afterAll(async () => {
    await production?.process.close();
    await system.pool.query(`DROP ROLE IF EXISTS ${productionRole}`);
  });

  test.each([
    ['a syntax error', 'subscription { walletUpdated { available }'],
    ['a token bomb (1,200 tokens)', `subscription { walletUpdated { ${'available '.repeat(1_200)} } }`],
    ['an unknown field', 'subscription { walletUpdated { nonsense } }'],
  ])('%s in one subscribe | only that operation fails, with a message; the socket and its other subscriptions live on', async (_, query) => {
    const user = await signUpUser(system.graphqlUrl);
    const socket = connect(system.graphqlUrl, user.token);
    const healthy = subscribe<{ walletUpdated: { available: string } }>(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const broken = subscribe(socket.client, query);
    const ended = await broken.ended;
    expect(ended.code).toBeUndefined();
    const errors = ended.error as Array<{ message: string; extensions?: { code?: string } }>;
    expect(errors[0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(errors)).not.toMatch(/\s+at\s+\S+\s+\(/);
    await fundWalletForTesting(system.pool, user.id, 7n);
    expect((await healthy.waitFor(1))[0]!.walletUpdated.available).toBe('7');
    await socket.client.dispose();
  });

  test('a fourth subscription on a socket, at most 3 | the socket closes with 4429', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const socket = connect(limited, user.token);
    for (let index = 0; index < 3; index++) subscribe(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscribe(socket.client, walletUpdated);
    const closed = await socket.closed;
    expect(closed).toEqual({ code: 4429, reason: expect.stringContaining('Too many subscriptions') });
    await socket.client.dispose();
  });

  test('a third socket of one user, at most 2 | refused with 4429; another user still connects', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const sockets = [connect(limited, user.token), connect(limited, user.token)];
    for (const socket of sockets) subscribe(socket.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const third = connect(limited, user.token);
    expect(await third.closed).toEqual({ code: 4429, reason: expect.stringContaining('Too many sockets') });
    const other = await signUpUser(system.graphqlUrl);
    const theirs = connect(limited, other.token);
    const wallet = subscribe<{ walletUpdated: { available: string } }>(theirs.client, walletUpdated);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await fundWalletForTesting(system.pool, other.id, 3n);
    expect((await wallet.waitFor(1))[0]!.walletUpdated.available).toBe('3');
    for (const socket of [...sockets, third, theirs]) await socket.client.dispose();
  });

  test('introspection over the socket in production | refused with BAD_USER_INPUT', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const socket = connect(production.graphqlUrl, user.token);
    const introspection = subscribe(socket.client, '{ __schema { types { name } } }');
    const ended = await introspection.ended;
    expect(introspection.events).toEqual([]);
    expect((ended.error as Array<{ extensions?: { code?: string } }>)[0]!.extensions?.code).toBe('BAD_USER_INPUT');
    await socket.client.dispose();
  });
});
