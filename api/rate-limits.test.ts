// Rate limits through the public API of a real API process whose limits are the defaults (sign-in,
// codes per phone) or small explicit values (sign-ups per address, mutations and payee look-ups per
// user). The API trusts one proxy hop here, so each test speaks from its own address (X-Forwarded-For).
import { randomUUID } from 'node:crypto';
import { randomPhone, readCode, requestPhoneVerificationMutation, signUpMutation, type GraphQLResponse } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({
    realRateLimits: true,
    env: {
      TRUSTED_PROXY_HOPS: '1',
      RATE_LIMIT_SIGN_UPS_PER_ADDRESS: '5/3600',
      RATE_LIMIT_MUTATIONS_PER_USER: '10/60',
      RATE_LIMIT_PAYEE_LOOKUPS_PER_USER: '3/3600',
    },
  });
});
afterAll(async () => {
  await system?.stop();
});

let addressCounter = 1;
/** A documentation address (RFC 5737) of its own for each caller. */
const newAddress = (): string => `203.0.113.${addressCounter++}`;

async function gql(query: string, variables: Record<string, unknown>, options: { address: string; token?: string }): Promise<GraphQLResponse> {
  const response = await fetch(system.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': options.address,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

async function verify(phone: string, address: string): Promise<{ verificationId: string; code: string }> {
  const response = await gql(requestPhoneVerificationMutation, { input: { phone } }, { address });
  if (!response.data?.requestPhoneVerification) throw new Error(JSON.stringify(response.errors));
  return { verificationId: response.data.requestPhoneVerification.id, code: await readCode(system.smsSimUrl, phone) };
}

async function newUser(address: string): Promise<{ phone: string; token: string; id: string }> {
  const phone = randomPhone();
  const response = await gql(signUpMutation, { input: { phone, name: 'Limited', password: 'correct horse', ...(await verify(phone, address)) } }, { address });
  if (!response.data?.signUp) throw new Error(JSON.stringify(response.errors));
  return { phone, token: response.data.signUp.token, id: response.data.signUp.user.id };
}

const signIn = (phone: string, password: string, address: string) =>
  gql(`mutation($input: SignInInput!) { signIn(input: $input) { token } }`, { input: { phone, password } }, { address });

const extensionsOf = (response: GraphQLResponse) => response.errors?.[0]?.extensions ?? {};

describe('rate limits', () => {
  test('signIn | 40 wrong passwords, then the right one | refused with RATE_LIMITED and retryAfterSeconds', async () => {
    const address = newAddress();
    const user = await newUser(address);
    const codes: string[] = [];
    for (let attempt = 0; attempt < 40; attempt++) codes.push(extensionsOf(await signIn(user.phone, `wrong password ${attempt}`, address)).code as string);
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('UNAUTHENTICATED'));
    expect(new Set(codes.slice(5))).toEqual(new Set(['RATE_LIMITED']));
    const right = await signIn(user.phone, 'correct horse', address);
    expect(right.data).toBeNull();
    expect(extensionsOf(right)).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    expect(extensionsOf(right).retryAfterSeconds).toBeGreaterThan(0);
    expect(extensionsOf(right).retryAfterSeconds).toBeLessThanOrEqual(900);
    const { rows } = await system.pool.query(
      `SELECT count(*)::int AS count FROM security_events WHERE kind = 'rate_limit.refused' AND client_address = $1`,
      [address],
    );
    expect(rows[0].count).toBeGreaterThan(0);
  });

  test('signIn | locked out again after the first lock-out ends | the back-off doubles, never past the maximum', async () => {
    const address = newAddress();
    const user = await newUser(address);
    const key = `signInFailuresByPhoneAddress:${user.phone}|${address}`;
    const lockOut = async () => {
      let last: GraphQLResponse | undefined;
      for (let attempt = 0; attempt < 6; attempt++) last = await signIn(user.phone, 'wrong password', address);
      return extensionsOf(last!);
    };
    const first = await lockOut();
    expect(first).toMatchObject({ code: 'RATE_LIMITED' });
    expect(first.retryAfterSeconds).toBeLessThanOrEqual(30);
    // The first lock-out ends (as if 30 s went by).
    await system.pool.query(`UPDATE rate_limits SET expire = 1 WHERE key = $1`, [key]);
    const second = await lockOut();
    expect(second.retryAfterSeconds).toBeGreaterThan(30);
    expect(second.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Many lock-outs later: still at most 15 minutes.
    await system.pool.query(`UPDATE rate_limits SET expire = 1 WHERE key = $1`, [key]);
    await system.pool.query(`UPDATE rate_limits SET points = 50 WHERE key = $1`, [`signInBackoff:${key}`]);
    const later = await lockOut();
    expect(later.retryAfterSeconds).toBeGreaterThan(800);
    expect(later.retryAfterSeconds).toBeLessThanOrEqual(900);
  });

  test('signIn | a stranger locks out a phone from another address | its owner, from theirs, still signs in', async () => {
    const owner = newAddress();
    const user = await newUser(owner);
    const stranger = newAddress();
    for (let attempt = 0; attempt < 8; attempt++) await signIn(user.phone, 'guess', stranger);
    expect(extensionsOf(await signIn(user.phone, 'correct horse', stranger)).code).toBe('RATE_LIMITED');
    expect((await signIn(user.phone, 'correct horse', owner)).data?.signIn.token).toMatch(/^zp_/);
  });

  test('requestPhoneVerification | a fourth code for one phone within 15 minutes | RATE_LIMITED with retryAfterSeconds', async () => {
    const address = newAddress();
    const phone = randomPhone();
    for (let index = 0; index < 3; index++) expect((await gql(requestPhoneVerificationMutation, { input: { phone } }, { address })).errors).toBeUndefined();
    const fourth = await gql(requestPhoneVerificationMutation, { input: { phone } }, { address });
    expect(extensionsOf(fourth)).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
  });

  test('signUp | 15 aliased signUps in one request, limit 5 per address | at most 5 users created', async () => {
    const address = newAddress();
    const phones = Array.from({ length: 15 }, () => randomPhone());
    const verifications: Array<{ verificationId: string; code: string }> = [];
    for (const phone of phones) verifications.push(await verify(phone, address));
    const aliases = phones
      .map((phone, index) => {
        const { verificationId, code } = verifications[index]!;
        return `u${index}: signUp(input: {phone: "${phone}", name: "Alias ${index}", password: "correct horse", verificationId: "${verificationId}", code: "${code}"}) { token }`;
      })
      .join('\n');
    const response = await gql(`mutation { ${aliases} }`, {}, { address });
    // The sixth is refused; its field is non-null, so GraphQL stops the request there.
    expect(response.errors?.map((error) => [error.path?.[0], error.extensions?.code])).toEqual([['u5', 'RATE_LIMITED']]);
    const { rows } = await system.pool.query(`SELECT count(*)::int AS count FROM users WHERE phone = ANY($1)`, [phones]);
    expect(rows[0].count).toBe(5);
  });

  test('mutations | 15 aliased mutations in one request, limit 10 per user | the eleventh refused', async () => {
    const user = await newUser(newAddress());
    const aliases = Array.from({ length: 15 }, (_, index) => `m${index}: revokeSession(id: "${randomUUID()}")`).join('\n');
    const response = await gql(`mutation { ${aliases} }`, {}, { address: newAddress(), token: user.token });
    const refused = (response.errors ?? []).filter((error) => error.extensions?.code === 'RATE_LIMITED');
    expect(refused.map((error) => error.path?.[0])).toEqual(['m10']);
    expect(refused[0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
    // Ten counted: the next request is refused at once.
    const next = await gql(`mutation { signOut }`, {}, { address: newAddress(), token: user.token });
    expect(extensionsOf(next).code).toBe('RATE_LIMITED');
  });

  test('payee | a fourth look-up, limit 3 per user | RATE_LIMITED', async () => {
    const user = await newUser(newAddress());
    const answers = [];
    for (let index = 0; index < 4; index++) answers.push(await gql(`query($phone: String!) { payee(phone: $phone) { maskedName } }`, { phone: user.phone }, { address: newAddress(), token: user.token }));
    expect(answers[0]!.data.payee).toEqual({ maskedName: 'L******' });
    expect(extensionsOf(answers[3]!).code).toBe('RATE_LIMITED');
  });
});
