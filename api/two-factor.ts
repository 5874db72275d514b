// Two-factor authentication with an authenticator app (TOTP): enrolment, confirmation (which returns
// the recovery codes once), disabling, and verifySecondFactor, the one check every step-up (payments,
// disabling) goes through. A time step is accepted at most once per user; wrong codes are limited.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ApiConfig } from '../common/config';
import { badInput } from '../common/errors';
import { withTransaction, type Queryable } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import type { IdentityDependencies, Session } from './auth';
import type { ClientInfo } from './client-address';
import {
  codeShape,
  decryptSecret,
  encryptSecret,
  enrollmentOf,
  matchingStep,
  newRecoveryCodes,
  recoveryCodeHash,
  totpSecretBytes,
  twoFactorKeys,
} from './totp';

/** What verifying a code needs of the configuration. */
export type TwoFactorConfig = Pick<ApiConfig, 'TWO_FACTOR_ENCRYPTION_KEY'>;
export type SecondFactorResult = 'ok' | 'wrong' | 'not_enrolled';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const purposeLengthMax = 200;
const secondFactorLimit = 'secondFactorByUser';

export const wrongSecondFactorCode = () => badInput('The code is wrong or was already used', 'code');

/** Refuses, before anything is read or counted, what is neither 6 digits nor a recovery code. */
export function validateSecondFactorCode(code: string): string {
  if (codeShape(code) === null) throw badInput('The code is the 6 digits from the authenticator app or a recovery code', 'code');
  return code;
}

interface TwoFactorRow {
  secretCiphertext: Buffer;
  enabled: boolean;
}

async function findTwoFactor(db: Queryable, userId: string): Promise<TwoFactorRow | null> {
  const { rows } = await db.query<TwoFactorRow>(
    `SELECT secret_ciphertext AS "secretCiphertext", enabled_at IS NOT NULL AS enabled FROM two_factor WHERE user_id = $1`,
    [userId],
  );
  return rows[0] ?? null;
}

export async function isTwoFactorEnabled(db: Queryable, userId: string): Promise<boolean> {
  return (await findTwoFactor(db, userId))?.enabled ?? false;
}

/**
 * Accepts a step of this secret only if it is later than the last accepted one (one statement, so two
 * requests with the same code cannot both pass). `enabling` confirms a pending enrolment instead.
 */
async function acceptStep(db: Queryable, userId: string, secretCiphertext: Buffer, step: number, enabling: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE two_factor SET last_step = $2, last_used_at = now()${enabling ? ', enabled_at = now()' : ''}
     WHERE user_id = $1 AND last_step < $2 AND secret_ciphertext = $3 AND enabled_at IS ${enabling ? '' : 'NOT '}NULL`,
    [userId, step, secretCiphertext],
  );
  return rowCount === 1;
}

/** Marks an unused recovery code of an enabled two-factor used; false when there is none such. */
async function useRecoveryCode(db: Queryable, userId: string, codeHash: Buffer): Promise<{ used: boolean; remaining: number }> {
  const { rows } = await db.query<{ remaining: number }>(
    `WITH used AS (
       UPDATE two_factor_recovery_codes r SET used_at = now() FROM two_factor t
       WHERE r.user_id = $1 AND r.code_hash = $2 AND r.used_at IS NULL AND t.user_id = r.user_id AND t.enabled_at IS NOT NULL
       RETURNING r.code_hash)
     SELECT (SELECT count(*) FROM two_factor_recovery_codes WHERE user_id = $1 AND used_at IS NULL AND code_hash <> $2)::int AS remaining
     FROM used`,
    [userId, codeHash],
  );
  return rows[0] ? { used: true, remaining: rows[0].remaining } : { used: false, remaining: 0 };
}

/**
 * The second factor for a step-up: a current TOTP code (each time step once) or an unused recovery code
 * (then used up). Records `auth.second_factor_verified`, `auth.recovery_code_used` or
 * `auth.second_factor_failed` with the purpose (e.g. "confirm payment <id>"). It does no rate limiting:
 * the caller limits wrong codes (checkSecondFactor does, with RATE_LIMIT_SECOND_FACTOR_PER_USER).
 * A code of the wrong shape is 'wrong'; 'not_enrolled' when the user has no confirmed two-factor.
 */
export async function verifySecondFactor(
  db: Queryable,
  config: TwoFactorConfig,
  userId: string,
  code: string,
  purpose: string,
  client: { clientAddress?: string | null } = {},
): Promise<SecondFactorResult> {
  assert.match(userId, uuidPattern, 'verifySecondFactor takes a user id');
  assert.ok(purpose.length > 0, 'verifySecondFactor takes a purpose');
  const row = await findTwoFactor(db, userId);
  if (!row?.enabled) return 'not_enrolled';
  const keys = twoFactorKeys(config.TWO_FACTOR_ENCRYPTION_KEY);
  const shape = codeShape(code);
  let accepted = false;
  let details: Record<string, unknown> = { purpose: purpose.slice(0, purposeLengthMax), method: shape ?? 'malformed' };
  if (shape === 'totp') {
    const step = matchingStep(decryptSecret(keys, userId, row.secretCiphertext), code, Date.now());
    accepted = step !== null && (await acceptStep(db, userId, row.secretCiphertext, step, false));
  } else if (shape === 'recovery') {
    const { used, remaining } = await useRecoveryCode(db, userId, recoveryCodeHash(keys, userId, code)!);
    accepted = used;
    if (used) details = { ...details, remaining };
  }
  const kind = !accepted ? 'auth.second_factor_failed' : shape === 'recovery' ? 'auth.recovery_code_used' : 'auth.second_factor_verified';
  await recordSecurityEvent(db, {
    kind,
    outcome: accepted ? 'success' : 'failure',
    userId,
    actor: 'user',
    clientAddress: client.clientAddress ?? null,
    subject: purpose.slice(0, purposeLengthMax),
    details,
  });
  return accepted ? 'ok' : 'wrong';
}

/**
 * verifySecondFactor behind the user's limit of wrong codes, as the API's mutations use it: a code of
 * the wrong shape or a wrong one is BAD_USER_INPUT (field "code"); past RATE_LIMIT_SECOND_FACTOR_PER_USER
 * RATE_LIMITED, even for the right code. Every attempt is counted before the check (so parallel guesses
 * cannot slip past the limit) and a right one is given back, so only wrong codes count.
 */
export async function checkSecondFactor(
  deps: Pick<IdentityDependencies, 'pool' | 'config' | 'limits'>,
  userId: string,
  code: string,
  purpose: string,
  client: ClientInfo,
): Promise<'ok' | 'not_enrolled'> {
  validateSecondFactorCode(code);
  await deps.limits.consume(secondFactorLimit, userId, { userId, clientAddress: client.address });
  const result = await verifySecondFactor(deps.pool, deps.config, userId, code, purpose, { clientAddress: client.address });
  if (result === 'wrong') throw wrongSecondFactorCode();
  await deps.limits.refund(secondFactorLimit, userId);
  return result;
}

function securityEvent(session: Session, client: ClientInfo, kind: string, details: Record<string, unknown> = {}) {
  return { kind, outcome: 'success' as const, userId: session.user.id, actor: 'user', clientAddress: client.address, subject: session.id, details };
}

/**
 * Starts (or starts over) an enrolment: a new secret, stored encrypted and not yet in force until
 * confirmTwoFactorEnrollment gets a code of it. Refused while two-factor is on (disable it first).
 */
export async function startTwoFactorEnrollment(
  deps: IdentityDependencies,
  session: Session,
  client: ClientInfo,
): Promise<{ otpauthUri: string; secret: string }> {
  const userId = session.user.id;
  const secret = randomBytes(totpSecretBytes);
  const ciphertext = encryptSecret(twoFactorKeys(deps.config.TWO_FACTOR_ENCRYPTION_KEY), userId, secret);
  const { rowCount } = await deps.pool.query(
    `INSERT INTO two_factor (user_id, secret_ciphertext) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = EXCLUDED.secret_ciphertext, last_step = 0, created_at = now()
     WHERE two_factor.enabled_at IS NULL`,
    [userId, ciphertext],
  );
  if (rowCount !== 1) throw badInput('Two-factor authentication is already on: disable it first to enrol another authenticator');
  await recordSecurityEvent(deps.pool, securityEvent(session, client, 'auth.totp_enrolled'));
  return enrollmentOf(secret, session.user.phone);
}

/**
 * Turns two-factor on with a first code of the pending secret, and returns 10 recovery codes: the only
 * time they are ever shown (only their HMACs are kept). Wrong codes count against the user's limit.
 */
export async function confirmTwoFactorEnrollment(
  deps: IdentityDependencies,
  session: Session,
  code: string,
  client: ClientInfo,
): Promise<{ recoveryCodes: string[] }> {
  const userId = session.user.id;
  if (codeShape(code) !== 'totp') throw badInput('The code is the 6 digits from the authenticator app', 'code');
  const pending = await findTwoFactor(deps.pool, userId);
  if (!pending) throw badInput('Start with startTwoFactorEnrollment: there is no enrolment to confirm');
  if (pending.enabled) throw badInput('Two-factor authentication is already on');
  await deps.limits.consume(secondFactorLimit, userId, { userId, clientAddress: client.address });
  const keys = twoFactorKeys(deps.config.TWO_FACTOR_ENCRYPTION_KEY);
  const step = matchingStep(decryptSecret(keys, userId, pending.secretCiphertext), code, Date.now());
  const recoveryCodes = newRecoveryCodes();
  const enabled =
    step !== null &&
    (await withTransaction(deps.pool, async (db) => {
      // The secret must still be the one the code was checked against (no enrolment started meanwhile).
      if (!(await acceptStep(db, userId, pending.secretCiphertext, step, true))) return false;
      await db.query(`INSERT INTO two_factor_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])`, [
        userId,
        recoveryCodes.map((recoveryCode) => recoveryCodeHash(keys, userId, recoveryCode)!),
      ]);
      return true;
    }));
  if (!enabled) {
    await recordSecurityEvent(deps.pool, { ...securityEvent(session, client, 'auth.second_factor_failed', { purpose: 'confirm two-factor enrolment', method: 'totp' }), outcome: 'failure' });
    throw wrongSecondFactorCode();
  }
  await deps.limits.refund(secondFactorLimit, userId);
  await recordSecurityEvent(deps.pool, securityEvent(session, client, 'auth.totp_confirmed', { recoveryCodes: recoveryCodes.length }));
  return { recoveryCodes };
}

/** Turns two-factor off, given a current code or a recovery code; its secret and recovery codes are deleted. */
export async function disableTwoFactor(deps: IdentityDependencies, session: Session, code: string, client: ClientInfo): Promise<boolean> {
  const userId = session.user.id;
  if ((await checkSecondFactor(deps, userId, code, 'disable two-factor', client)) === 'not_enrolled') {
    throw badInput('Two-factor authentication is not on');
  }
  await deps.pool.query(`DELETE FROM two_factor WHERE user_id = $1`, [userId]);
  await recordSecurityEvent(deps.pool, securityEvent(session, client, 'auth.totp_disabled'));
  return true;
}
