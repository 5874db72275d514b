// Proof that whoever signs up holds the phone: a 6-digit code sent by SMS, stored only as an HMAC under
// the server's key, single use, expiring, and dead after PHONE_CODE_ATTEMPTS_MAX tries. The answer to a
// request is the same whether or not the phone already has a user.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { ApiConfig } from '../common/config';
import { badInput } from '../common/errors';
import type { Logger } from '../common/log';
import { parsePhone } from '../common/phone';
import type { Pool, Queryable } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import { addressKey } from './client-address';
import type { LimitContext, RateLimits } from './rate-limits';
import type { SmsSender } from './sms';

export const codeDigits = 6;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface VerificationDependencies {
  pool: Pool;
  config: ApiConfig;
  limits: RateLimits;
  sms: SmsSender;
  log: Logger;
}

export const wrongCode = () => badInput('The code is wrong, expired or already used: request a new one', 'code');

function codeHash(secret: string, verificationId: string, code: string): Buffer {
  // The id is part of the message: a code is bound to its own verification.
  return createHmac('sha256', secret).update(`${verificationId.toLowerCase()}:${code}`).digest();
}

export function smsBody(code: string, ttlSeconds: number): string {
  // The code must be the only run of six digits in the body (sms.md).
  return `ZenPAY: ${code} is your sign-up code. It expires in ${Math.round(ttlSeconds / 60)} minutes. Never share it.`;
}

export async function requestPhoneVerification(
  deps: VerificationDependencies,
  input: { phone: string },
  client: LimitContext,
): Promise<{ id: string; expiresAt: Date }> {
  const phone = parsePhone(input.phone);
  await deps.limits.consume('codesByAddress', addressKey(client.clientAddress), client);
  await deps.limits.consume('codesByPhone', phone, client);
  const id = uuidv7();
  const code = String(randomInt(0, 10 ** codeDigits)).padStart(codeDigits, '0');
  const ttlSeconds = deps.config.PHONE_CODE_TTL_SECONDS;
  const { rows } = await deps.pool.query<{ expiresAt: Date }>(
    `INSERT INTO phone_verifications (id, phone, code_hash, client_address, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at AS "expiresAt"`,
    [id, phone, codeHash(deps.config.PHONE_CODE_SECRET, id, code), client.clientAddress, ttlSeconds],
  );
  const event = { kind: 'auth.code_sent', actor: 'user', clientAddress: client.clientAddress, subject: phone } as const;
  try {
    const messageId = await deps.sms.send({ to: phone, body: smsBody(code, ttlSeconds), reference: id });
    await recordSecurityEvent(deps.pool, { ...event, outcome: 'success', details: { verificationId: id, messageId } });
  } catch (error) {
    // A code nobody received must not stay usable.
    await deps.pool.query(`UPDATE phone_verifications SET attempts = $2 WHERE id = $1`, [id, deps.config.PHONE_CODE_ATTEMPTS_MAX]);
    await recordSecurityEvent(deps.pool, { ...event, outcome: 'failure', details: { verificationId: id, error: (error as Error).message.slice(0, 200) } });
    throw error;
  }
  return { id, expiresAt: rows[0]!.expiresAt };
}

export function validateVerificationInput(input: { verificationId: string; code: string }): { verificationId: string; code: string } {
  if (!uuidPattern.test(input.verificationId)) throw badInput('verificationId is not an id from requestPhoneVerification', 'verificationId');
  if (!new RegExp(`^[0-9]{${codeDigits}}$`).test(input.code)) throw badInput(`The code is ${codeDigits} digits`, 'code');
  return { verificationId: input.verificationId.toLowerCase(), code: input.code };
}

/**
 * Counts a try against the verification and tells whether the code is right. Throws the code error
 * when it is wrong, or the verification is unknown, for another phone, expired, used or dead.
 */
export async function checkCode(
  deps: VerificationDependencies,
  input: { verificationId: string; phone: string; code: string },
): Promise<void> {
  const { rows } = await deps.pool.query<{ codeHash: Buffer }>(
    `UPDATE phone_verifications SET attempts = attempts + 1
     WHERE id = $1 AND phone = $2 AND consumed_at IS NULL AND expires_at > now() AND attempts < $3
     RETURNING code_hash AS "codeHash"`,
    [input.verificationId, input.phone, deps.config.PHONE_CODE_ATTEMPTS_MAX],
  );
  const stored = rows[0]?.codeHash;
  const given = codeHash(deps.config.PHONE_CODE_SECRET, input.verificationId, input.code);
  if (!stored || !timingSafeEqual(stored, given)) throw wrongCode();
}

/** Marks the verification used, inside the transaction that creates the user; false if it no longer can be. */
export async function consumeVerification(db: Queryable, verificationId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE phone_verifications SET consumed_at = now() WHERE id = $1 AND consumed_at IS NULL AND expires_at > now()`,
    [verificationId],
  );
  return rowCount === 1;
}
