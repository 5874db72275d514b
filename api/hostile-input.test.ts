// Everything a client or a bank can send wrong, as a table. Each row is sent to a real API process and
// must be answered with its error (HTTP status and extensions.code) and change nothing: the counts of
// users, sessions, transactions, ledger transfers, events and webhooks, and the wallets, stay the same.
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { Webhook } from 'standardwebhooks';
import { developmentWebhookSecret } from '../common/development';
import { fundWalletForTesting } from '../db/test-funding';
import { graphql, randomPhone, sendMoneyMutation, signUpUser, verifyPhone, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';

let system: TestSystem;
let productionUrl: string;
let asha: TestUser;
let ravi: TestUser;
let signedOut: TestUser;
let expired: TestUser;
/** A code requested for a phone with no user yet, and another phone's. */
let pendingPhone: string;
let pending: { verificationId: string; code: string };
let otherPending: { verificationId: string; code: string };
let ashaSessionId: string;
/** Two-factor on (its secret known here), and an enrolment started but not confirmed. */
let tara: TestUser;
let taraSecret: string;
let pia: TestUser;
let piaSecret: string;

beforeAll(async () => {
  system = await startTestSystem();
  productionUrl = (await system.startExtraApi({ name: 'api-production', env: { GRAPHQL_INTROSPECTION: 'false' } })).graphqlUrl;
  asha = await signUpUser(system.graphqlUrl, 'Asha');
  ravi = await signUpUser(system.graphqlUrl, 'Ravi');
  signedOut = await signUpUser(system.graphqlUrl, 'Gone');
  expired = await signUpUser(system.graphqlUrl, 'Old');
  await fundWalletForTesting(system.pool, asha.id, 100_000n);
  await graphql(system.graphqlUrl, 'mutation { signOut }', {}, signedOut.token);
  await system.pool.query(`UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE user_id = $1`, [expired.id]);
  pendingPhone = randomPhone();
  pending = await verifyPhone(system.graphqlUrl, pendingPhone);
  otherPending = await verifyPhone(system.graphqlUrl, randomPhone());
  ashaSessionId = (await graphql(system.graphqlUrl, '{ sessions { id } }', {}, asha.token)).data.sessions[0].id;
  tara = await signUpUser(system.graphqlUrl, 'Tara');
  taraSecret = (await graphql(system.graphqlUrl, startEnrollment, {}, tara.token)).data.startTwoFactorEnrollment.secret;
  await graphql(system.graphqlUrl, 'mutation($code: String!) { confirmTwoFactorEnrollment(code: $code) { recoveryCodes } }', { code: totpCode(taraSecret) }, tara.token);
  pia = await signUpUser(system.graphqlUrl, 'Pia');
  piaSecret = (await graphql(system.graphqlUrl, startEnrollment, {}, pia.token)).data.startTwoFactorEnrollment.secret;
});
afterAll(async () => {
  await system?.stop();
});

const startEnrollment = 'mutation { startTwoFactorEnrollment { secret } }';
const totpCode = (secret: string, offsetSteps = 0) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offsetSteps * 30_000 });
/** A well-formed 6-digit code that is none of the secret's codes around now. */
const wrongTotp = (secret: string): string => {
  const near = new Set([-2, -1, 0, 1, 2].map((offset) => totpCode(secret, offset)));
  return ['000000', '111111', '222222', '333333', '444444', '555555'].find((code) => !near.has(code))!;
};

async function snapshot(): Promise<string> {
  const { rows } = await system.pool.query(`SELECT
    (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM sessions) AS sessions,
    (SELECT count(*) FROM transactions) AS transactions, (SELECT count(*) FROM ledger_transfers) AS transfers,
    (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM bank_webhooks) AS webhooks,
    (SELECT count(*) FROM phone_verifications) AS verifications,
    (SELECT count(*) FROM phone_verifications WHERE consumed_at IS NOT NULL) AS verifications_used,
    (SELECT count(*) FROM sessions WHERE revoked_at IS NULL) AS live_sessions,
    (SELECT md5(string_agg(user_id || encode(secret_ciphertext, 'hex') || last_step || (enabled_at IS NOT NULL), ',' ORDER BY user_id)) FROM two_factor) AS two_factor_digest,
    (SELECT count(*) FROM two_factor_recovery_codes WHERE used_at IS NULL) AS recovery_codes_unused,
    (SELECT md5(string_agg(name || password_hash, ',' ORDER BY id)) FROM users) AS users_digest,
    (SELECT string_agg(credits_posted - debits_posted - debits_pending || '/' || debits_pending, ',' ORDER BY id) FROM ledger_accounts) AS balances`);
  return JSON.stringify(rows[0], (_, value) => (typeof value === 'bigint' ? String(value) : value));
}

interface Answer {
  status: number;
  code: string | undefined;
  /** extensions.field of a BAD_USER_INPUT, when there is one. */
  field?: unknown;
}

async function post(url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST'): Promise<Answer> {
  const response = await fetch(url, { method, headers, body: method === 'GET' ? undefined : body });
  const text = await response.text();
  let code: string | undefined;
  let field: unknown;
  try {
    const parsed = JSON.parse(text);
    code = parsed.errors?.[0]?.extensions?.code ?? parsed.error?.code ?? (Array.isArray(parsed) ? parsed[0]?.errors?.[0]?.extensions?.code : undefined);
    field = parsed.errors?.[0]?.extensions?.field;
  } catch {
    code = undefined;
  }
  return field === undefined ? { status: response.status, code } : { status: response.status, code, field };
}

const send = (input: Record<string, unknown>, token: string | null = asha.token, url = system.graphqlUrl) =>
  post(url, JSON.stringify({ query: sendMoneyMutation, variables: { input: { toPhone: ravi.phone, amount: '100', idempotencyKey: randomUUID(), ...input } } }), {
    'content-type': 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });

const query = (text: string, url = system.graphqlUrl, token: string | null = asha.token) =>
  post(url, JSON.stringify({ query: text }), { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) });

const signUpWith = (input: Record<string, unknown>) =>
  post(
    system.graphqlUrl,
    JSON.stringify({
      query: 'mutation($input: SignUpInput!) { signUp(input: $input) { token } }',
      variables: { input: { phone: pendingPhone, name: 'X', password: 'long enough pw', ...pending, ...input } },
    }),
  );
const signUp = (phone: unknown) => signUpWith({ phone });
const requestCode = (phone: unknown) =>
  post(system.graphqlUrl, JSON.stringify({ query: 'mutation($input: PhoneVerificationInput!) { requestPhoneVerification(input: $input) { id } }', variables: { input: { phone } } }));
const mutation = (text: string, variables: Record<string, unknown>, token: string | null = asha.token) =>
  post(system.graphqlUrl, JSON.stringify({ query: text, variables }), { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) });
const revokeSession = (id: unknown, token: string | null = asha.token) => mutation('mutation($id: ID!) { revokeSession(id: $id) }', { id }, token);
const changePassword = (input: Record<string, unknown>) =>
  mutation('mutation($input: ChangePasswordInput!) { changePassword(input: $input) }', { input: { currentPassword: 'correct horse battery', newPassword: 'another long one', ...input } });
const confirmTwoFactor = (code: unknown, token: string | null = pia.token) =>
  mutation('mutation($code: String!) { confirmTwoFactorEnrollment(code: $code) { recoveryCodes } }', { code }, token);
const confirmTransaction = (id: unknown, code: unknown, token: string | null = asha.token) =>
  mutation('mutation($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { id status } }', { id, code }, token);
const disableTwoFactor = (code: unknown, token: string | null = tara.token) => mutation('mutation($code: String!) { disableTwoFactor(code: $code) }', { code }, token);
/** A GraphQL-level error on one input field. */
const fieldError = (field: string) => (answer: Answer & { field?: unknown }) => (answer.status === 200 || answer.status === 400) && answer.code === 'BAD_USER_INPUT' && answer.field === field;

function webhook(body: string, headers: Record<string, string> | 'signed' = 'signed', id = `msg_${randomUUID()}`): Promise<Answer> {
  const now = new Date();
  const signed =
    headers === 'signed'
      ? { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(developmentWebhookSecret).sign(id, now, body) }
      : headers;
  return post(`${system.apiUrl}/webhooks/bank`, body, { 'content-type': 'application/json', ...signed });
}

const event = (data: Record<string, unknown>, type = 'payment.succeeded') =>
  JSON.stringify({ type, timestamp: new Date().toISOString(), data: { id: 'pay_x', reference: randomUUID(), amount: '100', currency: 'INR', status: 'succeeded', ...data } });

const aliasBomb = `{ ${Array.from({ length: 100 }, (_, index) => `a${index}: viewer { user { id } }`).join(' ')} }`;
const depthBomb = `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }`;
const tokenBomb = `{ viewer { ${'user { id } '.repeat(600)} } }`;
const directiveBomb = `{ viewer ${'@include(if: true) '.repeat(50)} { user { id } } }`;
const bad = (status: number, code?: string): Answer => ({ status, code });
/** A GraphQL-level error: over application/json the answer is 200 or 400 (GraphQL over HTTP), with its code. */
const graphqlError = (code: string) => (answer: Answer) => (answer.status === 200 || answer.status === 400) && answer.code === code;

const rows: Array<[string, () => Promise<Answer>, Answer | ((answer: Answer) => boolean)]> = [
  // Transport
  ['malformed JSON', () => post(system.graphqlUrl, '{"query": "{ viewer { user { id } } }"'), bad(400, 'BAD_USER_INPUT')],
  ['wrong content type', () => post(system.graphqlUrl, JSON.stringify({ query: sendMoneyMutation }), { 'content-type': 'text/plain', authorization: `Bearer ${asha.token}` }), (a) => a.status >= 400 && a.status < 500],
  ['oversized body (200 kB)', () => send({ note: 'n'.repeat(200_000) }), bad(413, 'BAD_USER_INPUT')],
  ['empty body', () => post(system.graphqlUrl, ''), (a) => a.status >= 400 && a.status < 500],
  ['batched operations', () => post(system.graphqlUrl, JSON.stringify([{ query: '{ viewer { user { id } } }' }, { query: '{ viewer { user { id } } }' }])), (a) => a.status >= 400 && a.status < 500],
  ['a mutation over GET', () => post(`${system.graphqlUrl}?query=${encodeURIComponent('mutation { signOut }')}`, '', { authorization: `Bearer ${asha.token}` }, 'GET'), (a) => a.status === 405],
  ['no query at all', () => post(system.graphqlUrl, JSON.stringify({ variables: {} })), graphqlError('BAD_USER_INPUT')],
  // Operation bombs
  ['alias bomb (100 aliases)', () => query(aliasBomb), graphqlError('BAD_USER_INPUT')],
  // The schema has no cycles, so only introspection can nest deeply, and production turns it off.
  ['depth bomb (11 levels) in production mode', () => query(depthBomb, productionUrl), graphqlError('BAD_USER_INPUT')],
  ['token bomb (1,800 tokens)', () => query(tokenBomb), graphqlError('BAD_USER_INPUT')],
  ['directive bomb (50 directives)', () => query(directiveBomb), graphqlError('BAD_USER_INPUT')],
  ['introspection in production mode', () => query('{ __schema { types { name } } }', productionUrl), graphqlError('BAD_USER_INPUT')],
  ['field suggestions in production mode', () => query('{ viewr { user { id } } }', productionUrl), graphqlError('BAD_USER_INPUT')],
  // Amounts
  ...(
    [
      ['a float', 10.5], ['an integer number', 100], ['an exponent', '1e3'], ['a negative', '-100'], ['zero', '0'], ['16 digits', '1234567890123456'],
      ['unicode digits', '١٢٣'], ['fullwidth digits', '１２３'], ['a leading zero', '0100'], ['a plus sign', '+100'], ['spaces', ' 100 '], ['hex', '0x10'],
      ['a decimal string', '10.50'], ['an empty string', ''], ['null', null], ['a boolean', true], ['an object', { value: '100' }], ['an array', ['100']],
    ] as Array<[string, unknown]>
  ).map(([name, amount]): [string, () => Promise<Answer>, (answer: Answer) => boolean] => [`amount as ${name}`, () => send({ amount }), graphqlError('BAD_USER_INPUT')]),
  // Phones
  ...['9876543210', '+91-98765-43210', '+91 9876543210', '+0123456789', '++919876543210', '', '+91987654321098765', '+९१९८७६५४३२१०', '+91 (987) 654-3210'].map(
    (phone): [string, () => Promise<Answer>, (answer: Answer) => boolean] => [`signUp phone ${JSON.stringify(phone)}`, () => signUp(phone), graphqlError('BAD_USER_INPUT')],
  ),
  ...['9876543210', '+91 9876543210', '', '+९१९८७६५४३२१०', '+9100000'].map(
    (phone): [string, () => Promise<Answer>, (answer: Answer) => boolean] => [`requestPhoneVerification phone ${JSON.stringify(phone)}`, () => requestCode(phone), graphqlError('BAD_USER_INPUT')],
  ),
  ['payee phone in another format', () => query(`{ payee(phone: "${ravi.phone.replace('+91', '0')}") { maskedName } }`), graphqlError('BAD_USER_INPUT')],
  // One-time codes and verification ids
  ...(
    [
      ['an empty code', ''], ['5 digits', '12345'], ['7 digits', '1234567'], ['letters', 'abcdef'], ['fullwidth digits', '１２３４５６'],
      ['a code with spaces', ' 12345 '], ['a numeric code', 123456], ['a null code', null], ['a 100 kB code', '1'.repeat(100_000)],
    ] as Array<[string, unknown]>
  ).map(([name, code]): [string, () => Promise<Answer>, (answer: Answer) => boolean] => [
    `signUp with ${name}`,
    () => signUpWith({ code }),
    name === 'a 100 kB code' ? (answer) => answer.status === 413 : name === 'a numeric code' || name === 'a null code' ? graphqlError('BAD_USER_INPUT') : fieldError('code'),
  ]),
  ['signUp with a wrong code', () => signUpWith({ code: pending.code === '000000' ? '000001' : '000000' }), fieldError('code')],
  ["signUp with another phone's verification and code", () => signUpWith(otherPending), fieldError('code')],
  ["signUp with this phone's verification and another's code", () => signUpWith({ code: otherPending.code === pending.code ? '999999' : otherPending.code }), fieldError('code')],
  ...(
    [['an empty verification id', ''], ['a verification id that is no uuid', 'ver_1'], ['a 300-character verification id', 'v'.repeat(300)], ['a numeric verification id', 12]] as Array<[string, unknown]>
  ).map(([name, verificationId]): [string, () => Promise<Answer>, (answer: Answer) => boolean] => [`signUp with ${name}`, () => signUpWith({ verificationId }), name === 'a numeric verification id' ? graphqlError('BAD_USER_INPUT') : fieldError('verificationId')]),
  ['signUp with an unknown verification id', () => signUpWith({ verificationId: randomUUID() }), fieldError('code')],
  ['signUp with a bidi override in the name', () => signUpWith({ name: 'Asha\u202Egnp.exe' }), fieldError('name')],
  ['signUp with a zero-width joiner in the name', () => signUpWith({ name: 'As\u200Dha' }), fieldError('name')],
  // Session ids
  ['revokeSession of a session id that is no uuid', () => revokeSession('sess_1'), fieldError('id')],
  ['revokeSession of an empty id', () => revokeSession(''), fieldError('id')],
  ['revokeSession of a 100 kB id', () => revokeSession('s'.repeat(100_000)), (answer) => answer.status === 413],
  ["revokeSession of another user's session", () => revokeSession(ashaSessionId, ravi.token), (answer) => answer.status === 200 && answer.code === undefined],
  ['revokeSession without a token', () => revokeSession(ashaSessionId, null), graphqlError('UNAUTHENTICATED')],
  ['revokeSession with a signed-out token', () => revokeSession(ashaSessionId, signedOut.token), graphqlError('UNAUTHENTICATED')],
  // Passwords
  ['changePassword with a wrong current password', () => changePassword({ currentPassword: 'not the password' }), fieldError('currentPassword')],
  ['changePassword to a 7-character password', () => changePassword({ newPassword: 'short12' }), fieldError('newPassword')],
  ['sendMoney to a phone in another format', () => send({ toPhone: ravi.phone.replace('+91', '0') }), graphqlError('BAD_USER_INPUT')],
  // Two-factor codes: of the wrong shape (refused before anything is read or counted), wrong, or out of place
  ...(
    [
      ['an empty code', ''], ['5 digits', '12345'], ['7 digits', '1234567'], ['letters', 'abcdef'], ['fullwidth digits', '１２３４５６'],
      ['a code with spaces', ' 123456 '], ['a recovery code one character short', 'abcd-efgh-jkm'], ['a recovery code with a u', 'uuuu-uuuu-uuuu'],
      ['a recovery code with misplaced hyphens', 'ab-cdefgh-jkmn'], ['a 1,000-character code', '1'.repeat(1_000)], ['a numeric code', 123456], ['a null code', null],
      ['a 100 kB code', '1'.repeat(100_000)],
    ] as Array<[string, unknown]>
  ).flatMap(([name, code]): Array<[string, () => Promise<Answer>, (answer: Answer) => boolean]> => {
    const expected = name === 'a 100 kB code' ? (answer: Answer) => answer.status === 413 : name === 'a numeric code' || name === 'a null code' ? graphqlError('BAD_USER_INPUT') : fieldError('code');
    return [
      [`disableTwoFactor with ${name}`, () => disableTwoFactor(code), expected],
      // A recovery code's shape is no enrolment code either.
      ...(name.startsWith('a recovery code') ? [] : [[`confirmTwoFactorEnrollment with ${name}`, () => confirmTwoFactor(code), expected] as [string, () => Promise<Answer>, (answer: Answer) => boolean]]),
    ];
  }),
  ['confirmTwoFactorEnrollment with a recovery code', () => confirmTwoFactor('abcd-efgh-jkmn'), fieldError('code')],
  ['confirmTwoFactorEnrollment with a wrong code', () => confirmTwoFactor(wrongTotp(piaSecret)), fieldError('code')],
  ['confirmTwoFactorEnrollment with no enrolment started', () => confirmTwoFactor('123456', asha.token), graphqlError('BAD_USER_INPUT')],
  ['confirmTwoFactorEnrollment when already on', () => confirmTwoFactor(totpCode(taraSecret, 1), tara.token), graphqlError('BAD_USER_INPUT')],
  ['confirmTransaction of no such payment', () => confirmTransaction(randomUUID(), '123456'), graphqlError('NOT_FOUND')],
  ['confirmTransaction with an id that is no uuid', () => confirmTransaction('1 OR 1=1', '123456'), graphqlError('NOT_FOUND')],
  ['confirmTransaction with a 10 000-character code', () => confirmTransaction(randomUUID(), '9'.repeat(10_000)), graphqlError('NOT_FOUND')],
  ['confirmTransaction with a number for the code', () => confirmTransaction(randomUUID(), 123456), graphqlError('BAD_USER_INPUT')],
  ['confirmTransaction without a token', () => confirmTransaction(randomUUID(), '123456', null), graphqlError('UNAUTHENTICATED')],
  ['disableTwoFactor with a wrong code', () => disableTwoFactor(wrongTotp(taraSecret)), fieldError('code')],
  ['disableTwoFactor with a wrong recovery code', () => disableTwoFactor('abcd-efgh-jkmn'), fieldError('code')],
  ["disableTwoFactor with the code of another user's secret", () => disableTwoFactor(totpCode(taraSecret, 1), asha.token), graphqlError('BAD_USER_INPUT')],
  ['disableTwoFactor without a token', () => disableTwoFactor(totpCode(taraSecret, 1), null), graphqlError('UNAUTHENTICATED')],
  ['disableTwoFactor with a signed-out token', () => disableTwoFactor(totpCode(taraSecret, 1), signedOut.token), graphqlError('UNAUTHENTICATED')],
  ['startTwoFactorEnrollment when already on', () => mutation(startEnrollment, {}, tara.token), graphqlError('BAD_USER_INPUT')],
  ['startTwoFactorEnrollment without a token', () => mutation(startEnrollment, {}, null), graphqlError('UNAUTHENTICATED')],
  // Idempotency keys
  ['an empty idempotency key', () => send({ idempotencyKey: '' }), graphqlError('BAD_USER_INPUT')],
  ['a 256-character idempotency key', () => send({ idempotencyKey: 'k'.repeat(256) }), graphqlError('BAD_USER_INPUT')],
  ['a 100 kB idempotency key', () => send({ idempotencyKey: 'k'.repeat(100_000) }), bad(413, 'BAD_USER_INPUT')],
  ['a numeric idempotency key', () => send({ idempotencyKey: 12345 }), graphqlError('BAD_USER_INPUT')],
  // Tokens
  ['no token', () => send({}, null), graphqlError('UNAUTHENTICATED')],
  ['an expired token', () => send({}, expired.token), graphqlError('UNAUTHENTICATED')],
  ['a signed-out token', () => send({}, signedOut.token), graphqlError('UNAUTHENTICATED')],
  ['a forged token', () => send({}, 'zp_' + 'A'.repeat(43)), graphqlError('UNAUTHENTICATED')],
  ['a token with another scheme', () => post(system.graphqlUrl, JSON.stringify({ query: 'mutation { signOut }' }), { 'content-type': 'application/json', authorization: `Basic ${asha.token}` }), graphqlError('UNAUTHENTICATED')],
  ['a bare Bearer', () => post(system.graphqlUrl, JSON.stringify({ query: 'mutation { signOut }' }), { 'content-type': 'application/json', authorization: 'Bearer' }), graphqlError('UNAUTHENTICATED')],
  // Webhooks
  ['webhook: not JSON, validly signed', () => webhook('not json'), bad(400, 'MALFORMED_BODY')],
  ['webhook: a JSON array', () => webhook('[]'), bad(400, 'MALFORMED_BODY')],
  ['webhook: no data', () => webhook(JSON.stringify({ type: 'payment.succeeded', timestamp: 'now' })), bad(400, 'MALFORMED_BODY')],
  ['webhook: unknown type', () => webhook(event({}, 'payment.refunded')), bad(400, 'MALFORMED_BODY')],
  ['webhook: amount as a number', () => webhook(event({ amount: 100 })), bad(400, 'MALFORMED_BODY')],
  ['webhook: amount with a fraction', () => webhook(event({ amount: '1.5' })), bad(400, 'MALFORMED_BODY')],
  ['webhook: another currency', () => webhook(event({ currency: 'USD' })), bad(400, 'MALFORMED_BODY')],
  ['webhook: status contradicting type', () => webhook(event({ status: 'failed' })), bad(400, 'MALFORMED_BODY')],
  ['webhook: oversized body', () => webhook(event({ note: 'x'.repeat(100_000) })), bad(413, 'PAYLOAD_TOO_LARGE')],
  ['webhook: a 256-character webhook-id, validly signed', () => webhook(event({}), 'signed', `msg_${'x'.repeat(252)}`), bad(400, 'WEBHOOK_ID_TOO_LONG')],
  ['webhook: no headers', () => webhook(event({}), {}), bad(401, 'INVALID_SIGNATURE')],
  ['webhook: signature version v2', () => webhook(event({}), { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v2,abc' }), bad(401, 'INVALID_SIGNATURE')],
  ['webhook: non-numeric timestamp', () => webhook(event({}), { 'webhook-id': 'msg_1', 'webhook-timestamp': 'yesterday', 'webhook-signature': 'v1,abc' }), bad(401, 'INVALID_SIGNATURE')],
  ['webhook: several signatures, all wrong', () => webhook(event({}), { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA v1,BBBB v1,CCCC' }), bad(401, 'INVALID_SIGNATURE')],
  ['webhook: a reference that is no transaction', () => webhook(event({ reference: 'not-a-uuid' })), (a) => a.status === 200],
];

describe('hostile input', () => {
  test.each(rows)('%s | its error, and nothing changes', async (_, request, expected) => {
    const before = await snapshot();
    const answer = await request();
    if (typeof expected === 'function') expect([answer, expected(answer)]).toEqual([answer, true]);
    else expect(answer).toEqual(expected);
    expect(await snapshot()).toBe(before.replace(/"webhooks":"(\d+)"/, (match, count) => (_ === 'webhook: a reference that is no transaction' ? `"webhooks":"${Number(count) + 1}"` : match)));
  });

  test('a well-formed request after all that | still works', async () => {
    const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: ravi.phone, amount: '100', idempotencyKey: randomUUID() } }, asha.token);
    expect(response.data.sendMoney.status).toBe('COMPLETED');
  });
});
