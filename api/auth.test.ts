// Sign-up, sign-in and sign-out through the public GraphQL API of a real API process, against real
// PostgreSQL and Temporal (started by the jest global setup).
import { errorCode, graphql, randomPhone, signUpMutation, signUpUser, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';

const signInMutation = `mutation SignIn($input: SignInInput!) { signIn(input: $input) { token user { id phone name } } }`;
const viewerQuery = `{ viewer { user { id phone name createdAt } wallet { currency available held updatedAt } } }`;

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(async () => {
  await system?.stop();
});

describe('auth', () => {
  test('signUp | new phone | returns a working token and an empty INR wallet', async () => {
    const phone = randomPhone();
    const response = await graphql(system.graphqlUrl, signUpMutation, { input: { phone, name: 'Asha', password: 'correct horse' } });
    expect(response.errors).toBeUndefined();
    const { token, user } = response.data.signUp;
    expect(token).toMatch(/^zp_[A-Za-z0-9_-]{43}$/);
    expect(user).toMatchObject({ phone, name: 'Asha' });
    const viewer = await graphql(system.graphqlUrl, viewerQuery, {}, token);
    expect(viewer.data.viewer.user.id).toBe(user.id);
    expect(viewer.data.viewer.wallet).toMatchObject({ currency: 'INR', available: '0', held: '0' });
  });

  test('signUp | phone already registered | BAD_USER_INPUT and no second user', async () => {
    const first = await signUpUser(system.graphqlUrl);
    const again = await graphql(system.graphqlUrl, signUpMutation, { input: { phone: first.phone, name: 'Other', password: 'another password' } });
    expect(errorCode(again)).toBe('BAD_USER_INPUT');
    const { rows } = await system.pool.query('SELECT count(*)::int AS count FROM users WHERE phone = $1', [first.phone]);
    expect(rows[0].count).toBe(1);
  });

  test.each([
    ['a phone without plus', { phone: '919876543210', name: 'A', password: 'long enough' }],
    ['a phone with spaces', { phone: '+91 98765 43210', name: 'A', password: 'long enough' }],
    ['a number that cannot exist', { phone: '+9100000', name: 'A', password: 'long enough' }],
    ['a short password', { phone: randomPhone(), name: 'A', password: 'short' }],
    ['a 129-character password', { phone: randomPhone(), name: 'A', password: 'x'.repeat(129) }],
    ['an empty name', { phone: randomPhone(), name: '   ', password: 'long enough' }],
  ])('signUp | %s | BAD_USER_INPUT and nothing created', async (_, input) => {
    const before = await system.pool.query('SELECT count(*)::int AS count FROM users');
    const response = await graphql(system.graphqlUrl, signUpMutation, { input });
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    const after = await system.pool.query('SELECT count(*)::int AS count FROM users');
    expect(after.rows[0].count).toBe(before.rows[0].count);
  });

  test('signIn | right password | a new session; wrong password or unknown phone | UNAUTHENTICATED', async () => {
    const user = await signUpUser(system.graphqlUrl, 'Ravi');
    const ok = await graphql(system.graphqlUrl, signInMutation, { input: { phone: user.phone, password: 'correct horse battery' } });
    expect(ok.data.signIn.user.id).toBe(user.id);
    expect(ok.data.signIn.token).not.toBe(user.token);

    const wrong = await graphql(system.graphqlUrl, signInMutation, { input: { phone: user.phone, password: 'wrong horse battery' } });
    expect(errorCode(wrong)).toBe('UNAUTHENTICATED');
    expect(wrong.data).toBeNull();

    const unknownPhone = randomPhone();
    const unknown = await graphql(system.graphqlUrl, signInMutation, { input: { phone: unknownPhone, password: 'correct horse battery' } });
    expect(errorCode(unknown)).toBe('UNAUTHENTICATED');
    const { rowCount } = await system.pool.query('SELECT 1 FROM users WHERE phone = $1', [unknownPhone]);
    expect(rowCount).toBe(0);
  });

  test('signOut | signed in | the token stops working and other sessions keep working', async () => {
    const user: TestUser = await signUpUser(system.graphqlUrl);
    const second = await graphql(system.graphqlUrl, signInMutation, { input: { phone: user.phone, password: 'correct horse battery' } });
    const out = await graphql(system.graphqlUrl, `mutation { signOut }`, {}, user.token);
    expect(out.data.signOut).toBe(true);
    const viewer = await graphql(system.graphqlUrl, viewerQuery, {}, user.token);
    expect(viewer.data.viewer).toBeNull();
    const outAgain = await graphql(system.graphqlUrl, `mutation { signOut }`, {}, user.token);
    expect(errorCode(outAgain)).toBe('UNAUTHENTICATED');
    const stillIn = await graphql(system.graphqlUrl, viewerQuery, {}, second.data.signIn.token);
    expect(stillIn.data.viewer.user.id).toBe(user.id);
  });

  test('sessions | stored only as hashes | no token appears in the database', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const { rows } = await system.pool.query(`SELECT encode(token_hash, 'hex') AS hash FROM sessions`);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.hash).not.toContain(Buffer.from(user.token).toString('hex'));
    const { rows: users } = await system.pool.query(`SELECT password_hash FROM users WHERE id = $1`, [user.id]);
    expect(users[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test('sessions | expired | the token no longer authenticates', async () => {
    const user = await signUpUser(system.graphqlUrl);
    await system.pool.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
    const viewer = await graphql(system.graphqlUrl, viewerQuery, {}, user.token);
    expect(viewer.data.viewer).toBeNull();
  });

  test('viewer | forged or malformed token | null, never an error', async () => {
    for (const token of ['zp_' + 'A'.repeat(43), 'not-a-token', 'zp_']) {
      const viewer = await graphql(system.graphqlUrl, viewerQuery, {}, token);
      expect(viewer.errors).toBeUndefined();
      expect(viewer.data.viewer).toBeNull();
    }
  });
});
