// Two-factor authentication through a real API process (users signed up through the SMS simulator),
// with the codes computed here by otpauth from the secret the API returned, as an authenticator app
// would. verifySecondFactor, which payment step-up calls, is called directly as the application role.
// The tables are read with the test's owner pool to show that nothing is stored in clear.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP, URI } from 'otpauth';
import { apiConfigSchema } from '../common/config';
import { developmentAppDatabasePassword } from '../common/development';
import { appDatabaseUrl } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import { errorCode, graphql, signUpUser, type GraphQLResponse, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';
import { decryptSecret, twoFactorKeys } from './totp';
import { isTwoFactorEnabled, verifySecondFactor } from './two-factor';

const encryptionKey = randomBytes(32).toString('base64');
const config = { TWO_FACTOR_ENCRYPTION_KEY: encryptionKey };

const startMutation = `mutation { startTwoFactorEnrollment { otpauthUri secret } }`;
const confirmMutation = `mutation($code: String!) { confirmTwoFactorEnrollment(code: $code) { recoveryCodes } }`;
const disableMutation = `mutation($code: String!) { disableTwoFactor(code: $code) }`;

let system: TestSystem;
/** The application's own role, as the API connects: verifySecondFactor must work with its grants. */
let appPool: Pool;
beforeAll(async () => {
  system = await startTestSystem({ env: { TWO_FACTOR_ENCRYPTION_KEY: encryptionKey } });
  appPool = createPool({ connectionString: appDatabaseUrl(system.databaseUrl, developmentAppDatabasePassword), max: 2, applicationName: 'zenpay-test-app' });
});
afterAll(async () => {
  await appPool?.end();
  await system?.stop();
});

const gql = (query: string, variables: Record<string, unknown>, user: TestUser) => graphql(system.graphqlUrl, query, variables, user.token);
const fieldOf = (response: GraphQLResponse) => response.errors?.[0]?.extensions?.field;
const stepNow = () => Math.floor(Date.now() / 30_000);

/** The code an authenticator app shows for a time step. */
const codeAt = (secret: string, step: number) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: step * 30_000 });

/** A well-formed code that is none of the codes of the steps around now. */
function wrongCode(secret: string): string {
  const near = new Set([-2, -1, 0, 1, 2].map((offset) => codeAt(secret, stepNow() + offset)));
  for (let candidate = 0; ; candidate++) {
    const code = String(candidate).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

async function twoFactorEnabled(user: TestUser): Promise<boolean> {
  return (await gql(`{ viewer { twoFactorEnabled } }`, {}, user)).data.viewer.twoFactorEnabled;
}

async function start(user: TestUser): Promise<string> {
  const response = await gql(startMutation, {}, user);
  expect(response.errors).toBeUndefined();
  return response.data.startTwoFactorEnrollment.secret;
}

/** Enrols and confirms with the code of `step`; returns the secret and the recovery codes. */
async function enable(user: TestUser, step = stepNow()): Promise<{ secret: string; recoveryCodes: string[] }> {
  const secret = await start(user);
  const response = await gql(confirmMutation, { code: codeAt(secret, step) }, user);
  expect(response.errors).toBeUndefined();
  return { secret, recoveryCodes: response.data.confirmTwoFactorEnrollment.recoveryCodes };
}

async function eventsOf(user: TestUser): Promise<Array<{ kind: string; outcome: string; subject: string | null }>> {
  const { rows } = await system.pool.query(`SELECT kind, outcome, subject FROM security_events WHERE user_id = $1 AND kind NOT IN ('auth.sign_up') ORDER BY id`, [user.id]);
  return rows;
}

describe('two-factor authentication', () => {
  test('startTwoFactorEnrollment | signed in | an otpauth URI for ZenPAY and the phone (SHA1, 6 digits, 30 s) with its secret; not yet on', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const response = await gql(startMutation, {}, user);
    const { otpauthUri, secret } = response.data.startTwoFactorEnrollment;
    const totp = URI.parse(otpauthUri) as TOTP;
    expect(totp).toBeInstanceOf(TOTP);
    expect({ issuer: totp.issuer, label: totp.label, algorithm: totp.algorithm, digits: totp.digits, period: totp.period, secret: totp.secret.base32 }).toEqual({
      issuer: 'ZenPAY',
      label: user.phone,
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      secret,
    });
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await twoFactorEnabled(user)).toBe(false);
    expect(errorCode(await graphql(system.graphqlUrl, startMutation))).toBe('UNAUTHENTICATED');
  });

  test('confirmTwoFactorEnrollment | a wrong code, then the right one | BAD_USER_INPUT on code and still off, then 10 recovery codes and on', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const secret = await start(user);
    const wrong = await gql(confirmMutation, { code: wrongCode(secret) }, user);
    expect([errorCode(wrong), fieldOf(wrong)]).toEqual(['BAD_USER_INPUT', 'code']);
    expect(await twoFactorEnabled(user)).toBe(false);
    const right = await gql(confirmMutation, { code: codeAt(secret, stepNow()) }, user);
    const recoveryCodes: string[] = right.data.confirmTwoFactorEnrollment.recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    expect(await twoFactorEnabled(user)).toBe(true);
    expect(await isTwoFactorEnabled(appPool, user.id)).toBe(true);
    // Once on, a new enrolment is refused and the secret stays.
    expect(errorCode(await gql(startMutation, {}, user))).toBe('BAD_USER_INPUT');
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, stepNow() + 1), 'test: secret kept')).toBe('ok');
    expect(await eventsOf(user)).toEqual([
      { kind: 'auth.totp_enrolled', outcome: 'success', subject: expect.any(String) },
      { kind: 'auth.second_factor_failed', outcome: 'failure', subject: expect.any(String) },
      { kind: 'auth.totp_confirmed', outcome: 'success', subject: expect.any(String) },
      { kind: 'auth.second_factor_verified', outcome: 'success', subject: 'test: secret kept' },
    ]);
  });

  test('a TOTP code | used once, then again within its window | the second use is refused, and so is an earlier step', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const step = stepNow();
    const { secret } = await enable(user, step);
    // The confirmation used this step's code: it opens nothing else.
    const again = await gql(disableMutation, { code: codeAt(secret, step) }, user);
    expect([errorCode(again), fieldOf(again)]).toEqual(['BAD_USER_INPUT', 'code']);
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, step), 'confirm payment replayed')).toBe('wrong');
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, step - 1), 'confirm payment earlier step')).toBe('wrong');
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, step + 3), 'confirm payment outside the window')).toBe('wrong');
    // The next step's code (within the window of ±1) works once.
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, step + 1), 'confirm payment next step')).toBe('ok');
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, step + 1), 'confirm payment next step again')).toBe('wrong');
    const { rows } = await system.pool.query(`SELECT last_step AS "lastStep" FROM two_factor WHERE user_id = $1`, [user.id]);
    expect(rows[0].lastStep).toBe(BigInt(step + 1));
    expect(await twoFactorEnabled(user)).toBe(true);
  });

  test('verifySecondFactor | the same code from two requests at once | exactly one is accepted', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const step = stepNow();
    const { secret } = await enable(user, step);
    const code = codeAt(secret, step + 1);
    const results = await Promise.all(Array.from({ length: 5 }, (_, index) => verifySecondFactor(appPool, config, user.id, code, `confirm payment race ${index}`)));
    expect(results.filter((result) => result === 'ok')).toHaveLength(1);
    expect(results.filter((result) => result === 'wrong')).toHaveLength(4);
  });

  test('a recovery code | used for a payment, then again | accepted once (any case, hyphens or not), recorded with its purpose', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const { recoveryCodes } = await enable(user);
    const [first, second] = recoveryCodes as [string, string];
    expect(await verifySecondFactor(appPool, config, user.id, first, 'confirm payment 0190-test')).toBe('ok');
    expect(await verifySecondFactor(appPool, config, user.id, first, 'confirm payment 0190-test again')).toBe('wrong');
    expect(await verifySecondFactor(appPool, config, user.id, second.toUpperCase().replaceAll('-', ''), 'confirm payment typed')).toBe('ok');
    const { rows } = await system.pool.query(
      `SELECT kind, outcome, subject, details FROM security_events WHERE user_id = $1 AND kind IN ('auth.recovery_code_used', 'auth.second_factor_failed') ORDER BY id`,
      [user.id],
    );
    expect(rows).toEqual([
      { kind: 'auth.recovery_code_used', outcome: 'success', subject: 'confirm payment 0190-test', details: { purpose: 'confirm payment 0190-test', method: 'recovery', remaining: 9 } },
      { kind: 'auth.second_factor_failed', outcome: 'failure', subject: 'confirm payment 0190-test again', details: { purpose: 'confirm payment 0190-test again', method: 'recovery' } },
      { kind: 'auth.recovery_code_used', outcome: 'success', subject: 'confirm payment typed', details: { purpose: 'confirm payment typed', method: 'recovery', remaining: 8 } },
    ]);
    const used = await system.pool.query(`SELECT count(*)::int AS count FROM two_factor_recovery_codes WHERE user_id = $1 AND used_at IS NOT NULL`, [user.id]);
    expect(used.rows[0].count).toBe(2);
    // A used recovery code does not disable two-factor either.
    const disable = await gql(disableMutation, { code: first }, user);
    expect([errorCode(disable), fieldOf(disable)]).toEqual(['BAD_USER_INPUT', 'code']);
    expect(await twoFactorEnabled(user)).toBe(true);
  });

  test('disableTwoFactor | a wrong code, a malformed one, then a right one | refused twice, then off with secret and recovery codes gone', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const step = stepNow();
    const { secret, recoveryCodes } = await enable(user, step);
    const wrong = await gql(disableMutation, { code: wrongCode(secret) }, user);
    expect([errorCode(wrong), fieldOf(wrong)]).toEqual(['BAD_USER_INPUT', 'code']);
    const malformed = await gql(disableMutation, { code: '12 34 56' }, user);
    expect([errorCode(malformed), fieldOf(malformed)]).toEqual(['BAD_USER_INPUT', 'code']);
    expect(await twoFactorEnabled(user)).toBe(true);
    const right = await gql(disableMutation, { code: codeAt(secret, step + 1) }, user);
    expect(right).toMatchObject({ data: { disableTwoFactor: true } });
    expect(await twoFactorEnabled(user)).toBe(false);
    const { rows } = await system.pool.query(
      `SELECT (SELECT count(*) FROM two_factor WHERE user_id = $1)::int AS secrets, (SELECT count(*) FROM two_factor_recovery_codes WHERE user_id = $1)::int AS codes`,
      [user.id],
    );
    expect(rows[0]).toEqual({ secrets: 0, codes: 0 });
    expect(await verifySecondFactor(appPool, config, user.id, recoveryCodes[0]!, 'confirm payment after disable')).toBe('not_enrolled');
    const notOn = await gql(disableMutation, { code: recoveryCodes[1] }, user);
    expect(errorCode(notOn)).toBe('BAD_USER_INPUT');
    expect((await eventsOf(user)).map((event) => event.kind)).toEqual([
      'auth.totp_enrolled',
      'auth.totp_confirmed',
      'auth.second_factor_failed',
      'auth.second_factor_verified',
      'auth.totp_disabled',
    ]);
    // Enrolling again gives a new secret.
    expect(await start(user)).not.toBe(secret);
  });

  test('wrong codes | 5 in a row, then a sixth and the right one | BAD_USER_INPUT five times, then RATE_LIMITED with retryAfterSeconds', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const other = await signUpUser(system.graphqlUrl);
    const step = stepNow();
    const { secret } = await enable(user, step);
    const codes: Array<string | undefined> = [];
    for (let attempt = 0; attempt < 6; attempt++) codes.push(errorCode(await gql(disableMutation, { code: wrongCode(secret) }, user)));
    expect(codes).toEqual([...Array(5).fill('BAD_USER_INPUT'), 'RATE_LIMITED']);
    const right = await gql(disableMutation, { code: codeAt(secret, step + 1) }, user);
    expect(right.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    const retryAfterSeconds = right.errors![0]!.extensions!.retryAfterSeconds as number;
    expect(retryAfterSeconds).toBeGreaterThan(0);
    expect(retryAfterSeconds).toBeLessThanOrEqual(300);
    expect(await twoFactorEnabled(user)).toBe(true);
    // The limit is the user's alone: another user's confirmation goes through.
    await enable(other);
    expect(await twoFactorEnabled(other)).toBe(true);
    const { rows } = await system.pool.query(`SELECT count(*)::int AS count FROM security_events WHERE kind = 'rate_limit.refused' AND user_id = $1`, [user.id]);
    expect(rows[0].count).toBeGreaterThan(0);
  });

  test('right codes | 4 wrong, 8 right, then 2 wrong within the window | only the sixth wrong one is RATE_LIMITED', async () => {
    const user = await signUpUser(system.graphqlUrl);
    let { secret, recoveryCodes } = await enable(user);
    const wrongAnswers: Array<string | undefined> = [];
    for (let attempt = 0; attempt < 4; attempt++) wrongAnswers.push(errorCode(await gql(disableMutation, { code: wrongCode(secret) }, user)));
    // Four times: turned off with a recovery code and on again with a new secret's code (two right codes each).
    for (let round = 0; round < 4; round++) {
      expect(await gql(disableMutation, { code: recoveryCodes[0] }, user)).toMatchObject({ data: { disableTwoFactor: true } });
      ({ secret, recoveryCodes } = await enable(user));
    }
    for (let attempt = 0; attempt < 2; attempt++) wrongAnswers.push(errorCode(await gql(disableMutation, { code: wrongCode(secret) }, user)));
    expect(wrongAnswers).toEqual([...Array(5).fill('BAD_USER_INPUT'), 'RATE_LIMITED']);
  });

  test('the stored secret | read from the table by its owner | encrypted under the configured key, bound to its user; recovery codes only as hashes', async () => {
    const user = await signUpUser(system.graphqlUrl);
    const { secret, recoveryCodes } = await enable(user);
    const secretBytes = Buffer.from(Secret.fromBase32(secret).bytes);
    const { rows } = await system.pool.query(`SELECT * FROM two_factor WHERE user_id = $1`, [user.id]);
    const row = rows[0];
    const stored: Buffer = row.secret_ciphertext;
    expect(stored).toHaveLength(48);
    expect(stored.includes(secretBytes)).toBe(false);
    const text = JSON.stringify(row, (_, value) => (typeof value === 'bigint' ? String(value) : value));
    expect(text).not.toContain(secret);
    expect(text.toLowerCase()).not.toContain(secretBytes.toString('hex'));
    expect(text).not.toContain(secretBytes.toString('base64'));
    // It is the secret, encrypted under a subkey of TWO_FACTOR_ENCRYPTION_KEY for this user only.
    const keys = twoFactorKeys(encryptionKey);
    expect(decryptSecret(keys, user.id, stored).equals(secretBytes)).toBe(true);
    expect(() => decryptSecret(keys, '00000000-0000-0000-0000-000000000000', stored)).toThrow();
    expect(() => decryptSecret(twoFactorKeys(apiConfigSchema.parse({}).TWO_FACTOR_ENCRYPTION_KEY), user.id, stored)).toThrow();
    const codes = await system.pool.query(`SELECT * FROM two_factor_recovery_codes WHERE user_id = $1`, [user.id]);
    expect(codes.rows).toHaveLength(10);
    const codesText = JSON.stringify(codes.rows, (_, value) => (Buffer.isBuffer(value) ? value.toString('hex') : value));
    for (const code of recoveryCodes) {
      expect(codesText).not.toContain(code);
      expect(codesText).not.toContain(code.replaceAll('-', ''));
      expect(codesText).not.toContain(Buffer.from(code.replaceAll('-', '')).toString('hex'));
    }
    for (const { code_hash } of codes.rows) expect(code_hash).toHaveLength(32);
  });

  test('verifySecondFactor | a user who never enrolled, or only started | not_enrolled', async () => {
    const user = await signUpUser(system.graphqlUrl);
    expect(await verifySecondFactor(appPool, config, user.id, '123456', 'confirm payment none')).toBe('not_enrolled');
    expect(await isTwoFactorEnabled(appPool, user.id)).toBe(false);
    const secret = await start(user);
    expect(await verifySecondFactor(appPool, config, user.id, codeAt(secret, stepNow()), 'confirm payment pending')).toBe('not_enrolled');
    expect(await twoFactorEnabled(user)).toBe(false);
  });

  test('configuration | TWO_FACTOR_ENCRYPTION_KEY | 32 bytes of base64; the development key refused in production', () => {
    const issues = (env: Record<string, string>) => (apiConfigSchema.safeParse(env).error?.issues ?? []).map((issue) => issue.path.join('.'));
    expect(issues({ TWO_FACTOR_ENCRYPTION_KEY: encryptionKey })).toEqual([]);
    expect(issues({ TWO_FACTOR_ENCRYPTION_KEY: randomBytes(16).toString('base64') })).toEqual(['TWO_FACTOR_ENCRYPTION_KEY']);
    expect(issues({ TWO_FACTOR_ENCRYPTION_KEY: 'not base64 at all, and not 32 bytes long...' })).toEqual(['TWO_FACTOR_ENCRYPTION_KEY']);
    expect(issues({ NODE_ENV: 'production' })).toContain('TWO_FACTOR_ENCRYPTION_KEY');
    expect(issues({ NODE_ENV: 'production', TWO_FACTOR_ENCRYPTION_KEY: encryptionKey })).not.toContain('TWO_FACTOR_ENCRYPTION_KEY');
  });
});
