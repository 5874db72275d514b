// Phone verification, sign-up, sign-in and sign-out through the public GraphQL API of a real API
// process, against real PostgreSQL and Temporal (started by the jest global setup), reading the codes
// from the real SMS simulator process as a phone's owner would.
import {
  errorCode,
  graphql,
  latestCode,
  randomPhone,
  requestPhoneVerificationMutation,
  signUpMutation,
  signUpUser,
  verifyPhone,
  type TestUser,
} from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';

const signInMutation = `mutation SignIn($input: SignInInput!) { signIn(input: $input) { token user { id phone name } } }`;
const viewerQuery = `{ viewer { user { id phone name createdAt } wallet { currency available held updatedAt } } }`;
const password = 'correct horse';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ env: { PHONE_CODE_ATTEMPTS_MAX: '3' } });
});
afterAll(async () => {
  await system?.stop();
});

const count = async (sql: string, values: unknown[] = []): Promise<number> => (await system.pool.query(sql, values)).rows[0].count;
const usersWithPhone = (phone: string) => count('SELECT count(*)::int AS count FROM users WHERE phone = $1', [phone]);
const signUp = (input: Record<string, unknown>) => graphql(system.graphqlUrl, signUpMutation, { input });

describe('phone verification', () => {
  test('requestPhoneVerification | a new phone | an id and expiry, and a 6-digit code by SMS stored only as a hash', async () => {
    const phone = randomPhone();
    const response = await graphql(system.graphqlUrl, requestPhoneVerificationMutation, { input: { phone } });
    expect(response.errors).toBeUndefined();
    const { id, expiresAt } = response.data.requestPhoneVerification;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const ttlMs = new Date(expiresAt).getTime() - Date.now();
    expect(ttlMs).toBeGreaterThan(9 * 60_000);
    expect(ttlMs).toBeLessThanOrEqual(10 * 60_000);
    const code = await latestCode(system.smsSimUrl, phone);
    expect(code).toMatch(/^\d{6}$/);
    const { rows } = await system.pool.query(`SELECT encode(code_hash, 'hex') AS hash FROM phone_verifications WHERE id = $1`, [id]);
    expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].hash).not.toContain(Buffer.from(code!).toString('hex'));
  });

  test('requestPhoneVerification | a phone that already has a user | the same answer and a code all the same', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const before = await latestCode(system.smsSimUrl, user.phone);
    const known = await graphql(system.graphqlUrl, requestPhoneVerificationMutation, { input: { phone: user.phone } });
    const unknown = await graphql(system.graphqlUrl, requestPhoneVerificationMutation, { input: { phone: randomPhone() } });
    expect(Object.keys(known.data.requestPhoneVerification)).toEqual(Object.keys(unknown.data.requestPhoneVerification));
    expect(known.errors).toBeUndefined();
    expect(await latestCode(system.smsSimUrl, user.phone)).not.toBe(before);
  });

  test('requestPhoneVerification | the SMS provider fails | an error, the failure logged, and that verification unusable', async () => {
    const phone = randomPhone();
    const control = (body: unknown) => fetch(`${system.smsSimUrl}/v1/_control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await control({ failRate: 1 });
    try {
      const response = await graphql(system.graphqlUrl, requestPhoneVerificationMutation, { input: { phone } });
      expect(errorCode(response)).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await control({ failRate: 0 });
    }
    const { rows } = await system.pool.query(`SELECT kind, outcome, client_address AS "clientAddress" FROM security_events WHERE subject = $1`, [phone]);
    expect(rows).toEqual([{ kind: 'auth.code_sent', outcome: 'failure', clientAddress: '127.0.0.1' }]);
    const { rows: verifications } = await system.pool.query(`SELECT attempts FROM phone_verifications WHERE phone = $1`, [phone]);
    expect(verifications).toEqual([{ attempts: 3 }]);
  });

  test('signUp | the right code | a working token and an empty INR wallet', async () => {
    const phone = randomPhone();
    const response = await signUp({ phone, name: 'Asha', password, ...(await verifyPhone(system.graphqlUrl, phone)) });
    expect(response.errors).toBeUndefined();
    const { token, user } = response.data.signUp;
    expect(token).toMatch(/^zp_[A-Za-z0-9_-]{43}$/);
    expect(user).toMatchObject({ phone, name: 'Asha' });
    const viewer = await graphql(system.graphqlUrl, viewerQuery, {}, token);
    expect(viewer.data.viewer.user.id).toBe(user.id);
    expect(viewer.data.viewer.wallet).toMatchObject({ currency: 'INR', available: '0', held: '0' });
  });

  test('signUp | a squatter without the code (a guess, or the code of another phone) | BAD_USER_INPUT on code and no user', async () => {
    const victim = randomPhone();
    const victimVerification = await verifyPhone(system.graphqlUrl, victim);
    const squatterPhone = randomPhone();
    const squatterVerification = await verifyPhone(system.graphqlUrl, squatterPhone);
    const guess = victimVerification.code === '000000' ? '111111' : '000000';
    for (const attempt of [
      { ...victimVerification, code: guess },
      { verificationId: squatterVerification.verificationId, code: squatterVerification.code },
      { verificationId: victimVerification.verificationId, code: squatterVerification.code === victimVerification.code ? guess : squatterVerification.code },
    ]) {
      const response = await signUp({ phone: victim, name: 'Squatter', password, ...attempt });
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
      expect(response.errors![0]!.extensions!.field).toBe('code');
    }
    expect(await usersWithPhone(victim)).toBe(0);
  });

  test('signUp | a code used once | refused the second time, nothing created', async () => {
    const phone = randomPhone();
    const verification = await verifyPhone(system.graphqlUrl, phone);
    expect((await signUp({ phone, name: 'First', password, ...verification })).data.signUp.user.phone).toBe(phone);
    await system.pool.query('UPDATE users SET phone = $2 WHERE phone = $1', [phone, randomPhone()]);
    const again = await signUp({ phone, name: 'Second', password, ...verification });
    expect(again.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    expect(await usersWithPhone(phone)).toBe(0);
  });

  test('signUp | an expired code | BAD_USER_INPUT on code, nothing created', async () => {
    const phone = randomPhone();
    const verification = await verifyPhone(system.graphqlUrl, phone);
    await system.pool.query(`UPDATE phone_verifications SET created_at = now() - interval '11 minutes', expires_at = now() - interval '1 minute' WHERE id = $1`, [verification.verificationId]);
    const response = await signUp({ phone, name: 'Late', password, ...verification });
    expect(response.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    expect(await usersWithPhone(phone)).toBe(0);
  });

  test('signUp | as many wrong codes as attempts allowed (3 here) | the verification is dead, even for the right code', async () => {
    const phone = randomPhone();
    const verification = await verifyPhone(system.graphqlUrl, phone);
    const wrong = verification.code === '123456' ? '654321' : '123456';
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await signUp({ phone, name: 'Guesser', password, ...verification, code: wrong })).errors![0]!.extensions!.field).toBe('code');
    }
    const right = await signUp({ phone, name: 'Owner', password, ...verification });
    expect(right.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    expect(await usersWithPhone(phone)).toBe(0);
    // A new code works.
    expect((await signUp({ phone, name: 'Owner', password, ...(await verifyPhone(system.graphqlUrl, phone)) })).data.signUp.user.phone).toBe(phone);
  });

  test('signUp | phone already registered, right code | BAD_USER_INPUT and no second user', async () => {
    const first = await signUpUser(system.graphqlUrl);
    const again = await signUp({ phone: first.phone, name: 'Other', password: 'another password', ...(await verifyPhone(system.graphqlUrl, first.phone)) });
    expect(errorCode(again)).toBe('BAD_USER_INPUT');
    expect(again.errors![0]!.extensions!.field).toBe('phone');
    expect(await usersWithPhone(first.phone)).toBe(1);
  });

  test('security events | a code sent, a failed and a successful sign-up | recorded with address and outcome', async () => {
    const phone = randomPhone();
    const verification = await verifyPhone(system.graphqlUrl, phone);
    await signUp({ phone, name: 'Logged', password, ...verification, code: verification.code === '999999' ? '888888' : '999999' });
    const created = await signUp({ phone, name: 'Logged', password, ...verification });
    const { rows } = await system.pool.query(
      `SELECT kind, outcome, user_id AS "userId", client_address AS "clientAddress" FROM security_events WHERE subject = $1 ORDER BY id`,
      [phone],
    );
    expect(rows).toEqual([
      { kind: 'auth.code_sent', outcome: 'success', userId: null, clientAddress: '127.0.0.1' },
      { kind: 'auth.sign_up', outcome: 'failure', userId: null, clientAddress: '127.0.0.1' },
      { kind: 'auth.sign_up', outcome: 'success', userId: created.data.signUp.user.id, clientAddress: '127.0.0.1' },
    ]);
  });

  test.each([
    ['a phone without plus', { phone: '919876543210', name: 'A', password: 'long enough' }, 'phone'],
    ['a phone with spaces', { phone: '+91 98765 43210', name: 'A', password: 'long enough' }, 'phone'],
    ['a number that cannot exist', { phone: '+9100000', name: 'A', password: 'long enough' }, 'phone'],
    ['a short password', { phone: randomPhone(), name: 'A', password: 'short' }, 'password'],
    ['a 129-character password', { phone: randomPhone(), name: 'A', password: 'x'.repeat(129) }, 'password'],
    ['an empty name', { phone: randomPhone(), name: '   ', password: 'long enough' }, 'name'],
    ['a name with a right-to-left override', { phone: randomPhone(), name: 'Asha\u202Egnp.exe', password: 'long enough' }, 'name'],
    ['a name with a zero-width space', { phone: randomPhone(), name: 'As\u200Bha', password: 'long enough' }, 'name'],
    ['a name with a zero-width joiner', { phone: randomPhone(), name: 'Ra\u200Dvi', password: 'long enough' }, 'name'],
    ['a name with a bidi isolate', { phone: randomPhone(), name: '\u2066Ravi\u2069', password: 'long enough' }, 'name'],
    ['a name with a newline', { phone: randomPhone(), name: 'Ravi\nAdmin', password: 'long enough' }, 'name'],
  ])('signUp | %s | BAD_USER_INPUT on that field and nothing created', async (_, input, field) => {
    const before = await count('SELECT count(*)::int AS count FROM users');
    // With a valid code where the phone allows one: only the bad field can be the reason.
    const verification = field === 'phone' ? { verificationId: '01900000-0000-7000-8000-000000000000', code: '123456' } : await verifyPhone(system.graphqlUrl, input.phone);
    const response = await signUp({ ...input, ...verification });
    expect(response.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await count('SELECT count(*)::int AS count FROM users')).toBe(before);
  });

  test('signUp | a name in decomposed form | stored NFC-normalized', async () => {
    const phone = randomPhone();
    const response = await signUp({ phone, name: 'Jose\u0301', password, ...(await verifyPhone(system.graphqlUrl, phone)) });
    expect(response.data.signUp.user.name).toBe('Jos\u00e9');
  });
});

describe('sign-in and sign-out', () => {
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
    const { rows } = await system.pool.query(`SELECT outcome FROM security_events WHERE kind = 'auth.sign_in' AND subject = $1 ORDER BY id`, [user.phone]);
    expect(rows.map((row) => row.outcome)).toEqual(['success', 'failure']);
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
