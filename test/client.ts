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

export async function signUpUser(graphqlUrl: string, name = 'Test User'): Promise<TestUser> {
  const phone = randomPhone();
  const response = await graphql(graphqlUrl, signUpMutation, { input: { phone, name, password: 'correct horse battery' } });
  if (!response.data?.signUp) throw new Error(`signUp failed: ${JSON.stringify(response.errors)}`);
  const { token, user } = response.data.signUp;
  return { id: user.id, phone, name, token };
}

export const transactionFields = `id kind status direction amount currency counterparty note bankRedirectUrl failureCode createdAt updatedAt`;

export const sendMoneyMutation = `mutation Send($input: SendMoneyInput!) { sendMoney(input: $input) { ${transactionFields} } }`;

export async function walletOf(graphqlUrl: string, token: string): Promise<{ available: bigint; held: bigint }> {
  const response = await graphql(graphqlUrl, `{ viewer { wallet { available held } } }`, {}, token);
  const wallet = response.data?.viewer?.wallet;
  if (!wallet) throw new Error(`viewer failed: ${JSON.stringify(response.errors)}`);
  return { available: BigInt(wallet.available), held: BigInt(wallet.held) };
}
