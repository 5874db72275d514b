// Test clients of the public API: GraphQL over HTTP with fetch, users with random valid phones.
import { randomInt } from 'node:crypto';

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; [key: string]: unknown } }>;
}

export async function graphql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** The first error's code, or undefined. */
export const errorCode = (response: GraphQLResponse): string | undefined => response.errors?.[0]?.extensions?.code;

/** An Indian mobile number in E.164 that libphonenumber accepts (9 and nine random digits). */
export const randomPhone = (): string => `+919${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;

export interface TestUser {
  id: string;
  phone: string;
  name: string;
  token: string;
}

export const signUpMutation = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token user { id phone name createdAt } }
}`;

export const requestPhoneVerificationMutation = `mutation Verify($input: PhoneVerificationInput!) {
  requestPhoneVerification(input: $input) { id expiresAt }
}`;

/** Where each API's SMS provider (simulator) is: test systems register theirs as they start. */
const smsSimulators = new Map<string, string>();
export function registerSmsSimulator(graphqlUrl: string, smsSimUrl: string): void {
  smsSimulators.set(graphqlUrl, smsSimUrl);
}

const codeWaitMs = 10_000;
const codePollMs = 20;

/** The newest code the phone received (the only run of six digits in an SMS, sms.md), or null. */
export async function latestCode(smsSimUrl: string, phone: string): Promise<string | null> {
  const response = await fetch(`${smsSimUrl}/v1/messages?to=${encodeURIComponent(phone)}`);
  const { messages } = (await response.json()) as { messages: Array<{ body: string }> };
  return /(?<!\d)\d{6}(?!\d)/.exec(messages[0]?.body ?? '')?.[0] ?? null;
}

/** Waits for the phone's newest code to be one other than `unlike` (an earlier code), as its owner would. */
export async function readCode(smsSimUrl: string, phone: string, unlike: string | null = null): Promise<string> {
  const deadline = Date.now() + codeWaitMs;
  for (;;) {
    const code = await latestCode(smsSimUrl, phone);
    if (code && code !== unlike) return code;
    if (Date.now() > deadline) throw new Error(`no new code reached ${phone} within ${codeWaitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, codePollMs));
  }
}

/** requestPhoneVerification, then the code from the SMS simulator: what signUp needs besides name and password. */
export async function verifyPhone(graphqlUrl: string, phone: string, smsSimUrl = smsSimulators.get(graphqlUrl)): Promise<{ verificationId: string; code: string }> {
  if (!smsSimUrl) throw new Error(`no SMS simulator is known for ${graphqlUrl}: pass its URL`);
  const previous = await latestCode(smsSimUrl, phone);
  const response = await graphql(graphqlUrl, requestPhoneVerificationMutation, { input: { phone } });
  if (!response.data?.requestPhoneVerification) throw new Error(`requestPhoneVerification failed: ${JSON.stringify(response.errors)}`);
  return { verificationId: response.data.requestPhoneVerification.id, code: await readCode(smsSimUrl, phone, previous) };
}

const signUpAttemptsMax = 5;

/** A new user with a random phone, signed up through the SMS simulator as a person would. */
export async function signUpUser(graphqlUrl: string, name = 'Test User', smsSimUrl = smsSimulators.get(graphqlUrl)): Promise<TestUser> {
  for (let attempt = 1; ; attempt++) {
    const phone = randomPhone();
    const verification = await verifyPhone(graphqlUrl, phone, smsSimUrl);
    const response = await graphql(graphqlUrl, signUpMutation, { input: { phone, name, password: 'correct horse battery', ...verification } });
    if (response.data?.signUp) {
      const { token, user } = response.data.signUp;
      return { id: user.id, phone, name, token };
    }
    // A random phone may already have a user: another is tried.
    const taken = response.errors?.[0]?.extensions?.field === 'phone';
    if (!taken || attempt >= signUpAttemptsMax) throw new Error(`signUp failed: ${JSON.stringify(response.errors)}`);
  }
}

export const transactionFields = `id kind status direction amount currency counterparty note bankRedirectUrl failureCode createdAt updatedAt`;

export const sendMoneyMutation = `mutation Send($input: SendMoneyInput!) { sendMoney(input: $input) { ${transactionFields} } }`;

export async function walletOf(graphqlUrl: string, token: string): Promise<{ available: bigint; held: bigint }> {
  const response = await graphql(graphqlUrl, `{ viewer { wallet { available held } } }`, {}, token);
  const wallet = response.data?.viewer?.wallet;
  if (!wallet) throw new Error(`viewer failed: ${JSON.stringify(response.errors)}`);
  return { available: BigInt(wallet.available), held: BigInt(wallet.held) };
}
