// The simulated users: signed up through the public API (as a client would), then given money
// through the ledger (db/test-funding.ts), since no public API moves money into a wallet without a bank.
import { randomInt } from 'node:crypto';
import { fundWalletForTesting } from '../db/test-funding';
import type { Pool } from '../db/pool';
import { readCode } from '../test/client';
import { GraphQLHttpClient } from './api-client';

export interface BenchUser {
  id: string;
  phone: string;
  token: string;
}

/** Sign-ups hash a password with argon2id (tens of ms of API CPU each): a few at a time. */
const signUpConcurrency = 8;
const fundingConcurrency = 8;
const signUpTimeoutMs = 30_000;
/** ₹10 crore each: far more than any run can spend, so INSUFFICIENT_FUNDS never decides a figure. */
export const fundingAmountMinor = 10_000_000_000n;

const signUpMutation = `mutation SignUp($input: SignUpInput!) { signUp(input: $input) { token user { id } } }`;
const verifyMutation = `mutation Verify($input: PhoneVerificationInput!) { requestPhoneVerification(input: $input) { id } }`;

/**
 * Runs fn over the items with at most `concurrency` calls at a time, in order of the items; once the
 * signal is aborted no new call starts, and it throws after the running ones end.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length && !signal?.aborted) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  signal?.throwIfAborted();
  return results;
}

const signUpAttemptsMax = 5;

/** An Indian mobile number in E.164 that libphonenumber accepts (9 and nine random digits). */
const randomPhone = (): string => `+919${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;

/**
 * Each user as a person signs up: a code by SMS (read from the SMS simulator), then signUp with it.
 * The system must allow this many sign-ups and codes from one address (system/generous-limits.ts).
 */
export async function signUpUsers(
  graphqlUrl: string,
  smsUrl: string,
  count: number,
  signal: AbortSignal,
  onProgress: (done: number) => void,
): Promise<BenchUser[]> {
  const client = new GraphQLHttpClient(graphqlUrl, signUpConcurrency);
  let done = 0;
  try {
    return await mapBounded(
      Array.from({ length: count }, (_, index) => index),
      signUpConcurrency,
      async (index) => {
        // A random phone may belong to a user of this or an earlier run: then another is tried.
        for (let attempt = 1; ; attempt++) {
          const phone = randomPhone();
          const verification = await client.request<{ requestPhoneVerification: { id: string } }>(verifyMutation, { input: { phone } }, null, signUpTimeoutMs);
          const verificationId = verification.data?.requestPhoneVerification.id;
          if (!verificationId) throw new Error(`requestPhoneVerification failed: ${JSON.stringify(verification.errors)}`);
          const code = await readCode(smsUrl, phone);
          const input = { phone, name: `Bench user ${index}`, password: 'bench password 1', verificationId, code };
          const response = await client.request<{ signUp: { token: string; user: { id: string } } }>(signUpMutation, { input }, null, signUpTimeoutMs);
          if (response.data?.signUp) {
            onProgress(++done);
            return { id: response.data.signUp.user.id, phone, token: response.data.signUp.token };
          }
          const taken = (response.errors?.[0]?.extensions as { field?: string } | undefined)?.field === 'phone';
          if (!taken || attempt >= signUpAttemptsMax) throw new Error(`signUp failed: ${JSON.stringify(response.errors)}`);
        }
      },
      signal,
    );
  } finally {
    client.close();
  }
}

export async function fundUsers(pool: Pool, users: readonly BenchUser[]): Promise<void> {
  // The first funding creates the test_funding system account, and systemAccountId (db/ledger.ts) finds
  // no row when two transactions create it at once: one first, alone.
  const [first, ...rest] = users;
  if (first) await fundWalletForTesting(pool, first.id, fundingAmountMinor);
  await mapBounded(rest, fundingConcurrency, (user) => fundWalletForTesting(pool, user.id, fundingAmountMinor));
}
