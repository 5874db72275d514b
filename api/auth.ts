// Users, passwords and sessions. Passwords are hashed with argon2id at OWASP's parameters; session
// tokens are 256 random bits, given to the client once and stored only as their SHA-256.
import { hash as argon2Hash, verify as argon2Verify, Algorithm } from '@node-rs/argon2';
import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { ApiConfig } from '../common/config';
import { AppError, badInput, unauthenticated } from '../common/errors';
import type { Logger } from '../common/log';
import { e164Pattern, parsePhone } from '../common/phone';
import { openWallet } from '../db/ledger';
import { withTransaction, type Pool, type Queryable } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import { addressKey, type ClientInfo } from './client-address';
import { checkCode, consumeVerification, validateVerificationInput, wrongCode, type VerificationDependencies } from './phone-verification';
import { signInLimits, type RateLimits } from './rate-limits';

// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB of memory, 2 iterations, 1 degree of parallelism.
export const argon2Options = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const passwordLengthMin = 8;
const passwordLengthMax = 128;
const nameLengthMax = 100;
const tokenBytes = 32;
const tokenPrefix = 'zp_';

export interface User {
  id: string;
  phone: string;
  name: string;
  createdAt: Date;
}

export interface Session {
  /** The public id a user names the session by (never the token or its hash). */
  id: string;
  user: User;
  tokenHash: Buffer;
  expiresAt: Date;
}

/** What the identity operations need: the database, settings, limits and the log. */
export interface IdentityDependencies {
  pool: Pool;
  config: ApiConfig;
  limits: RateLimits;
  log: Logger;
}

const userColumns = `id, phone, name, created_at AS "createdAt"`;

export const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

function validatePassword(password: string): string {
  const length = [...password].length;
  if (length < passwordLengthMin || length > passwordLengthMax) {
    throw badInput(`Passwords are ${passwordLengthMin} to ${passwordLengthMax} characters`, 'password');
  }
  return password;
}

// Control (Cc), format (Cf: bidi overrides and isolates, zero-width spaces and joiners, BOM), line and
// paragraph separators, private-use and unassigned characters: invisible or reordering, so refused.
const invisibleCharacters = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/u;

/** A name as stored: NFC, trimmed, 1 to 100 characters, nothing invisible or reordering. */
export function validateName(name: string): string {
  const normalized = name.normalize('NFC').trim();
  if (normalized.length === 0 || [...normalized].length > nameLengthMax) {
    throw badInput(`Names are 1 to ${nameLengthMax} characters`, 'name');
  }
  if (invisibleCharacters.test(normalized)) {
    throw badInput('Names cannot contain control, bidirectional or zero-width characters', 'name');
  }
  return normalized;
}

export async function findUserByPhone(db: Queryable, phone: string): Promise<(User & { passwordHash: string }) | null> {
  const { rows } = await db.query<User & { passwordHash: string }>(
    `SELECT ${userColumns}, password_hash AS "passwordHash" FROM users WHERE phone = $1`,
    [phone],
  );
  return rows[0] ?? null;
}

export async function findUsersByIds(db: Queryable, ids: readonly string[]): Promise<User[]> {
  const { rows } = await db.query<User>(`SELECT ${userColumns} FROM users WHERE id = ANY($1::uuid[])`, [ids]);
  return rows;
}

export async function createSession(
  db: Queryable,
  userId: string,
  ttlSeconds: number,
  client: ClientInfo,
): Promise<{ token: string; expiresAt: Date }> {
  const token = tokenPrefix + randomBytes(tokenBytes).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  await db.query(
    `INSERT INTO sessions (token_hash, user_id, expires_at, last_used_at, client_address, user_agent) VALUES ($1, $2, $3, now(), $4, $5)`,
    [hashToken(token), userId, expiresAt, client.address, client.userAgent],
  );
  return { token, expiresAt };
}

export interface SignUpInput {
  phone: string;
  name: string;
  password: string;
  verificationId: string;
  code: string;
}

/**
 * Creates the user, once the phone's code is confirmed: every call counts against the sign-up limits
 * (per phone and per address), every try against the verification's attempts. Nothing is created on a
 * wrong, expired or used code, or for a phone that already has a user.
 */
export async function signUp(
  deps: IdentityDependencies & VerificationDependencies,
  input: SignUpInput,
  client: ClientInfo,
): Promise<{ token: string; user: User }> {
  const phone = parsePhone(input.phone);
  const name = validateName(input.name);
  const password = validatePassword(input.password);
  const verification = validateVerificationInput(input);
  const limitContext = { clientAddress: client.address };
  await deps.limits.consume('signUpsByAddress', addressKey(client.address), limitContext);
  await deps.limits.consume('signUpsByPhone', phone, limitContext);
  const event = { kind: 'auth.sign_up', actor: 'user', clientAddress: client.address, subject: phone } as const;
  try {
    await checkCode(deps, { ...verification, phone });
  } catch (error) {
    await recordSecurityEvent(deps.pool, { ...event, outcome: 'failure', details: { reason: 'code', verificationId: verification.verificationId } });
    throw error;
  }
  const passwordHash = await argon2Hash(password, argon2Options);
  const id = uuidv7();
  try {
    const created = await withTransaction(deps.pool, async (db) => {
      if (!(await consumeVerification(db, verification.verificationId))) throw wrongCode();
      const { rows } = await db.query<User>(
        `INSERT INTO users (id, phone, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${userColumns}`,
        [id, phone, name, passwordHash],
      );
      await openWallet(db, id);
      const { token } = await createSession(db, id, deps.config.SESSION_TTL_SECONDS, client);
      return { token, user: rows[0]! };
    });
    await recordSecurityEvent(deps.pool, { ...event, outcome: 'success', userId: id });
    return created;
  } catch (error) {
    if ((error as { code?: string; constraint?: string }).constraint === 'users_phone_key') {
      await recordSecurityEvent(deps.pool, { ...event, outcome: 'failure', details: { reason: 'phone_taken' } });
      throw badInput('A user with this phone number already exists', 'phone');
    }
    throw error;
  }
}

// Verifying against a fixed hash when the phone is unknown keeps both answers equally slow.
let decoyHash: Promise<string> | undefined;

/** The sign-in limits' keys for this attempt: phone and address, phone, address (a malformed phone has none). */
function signInKeys(phone: string | null, address: string | null): Array<[(typeof signInLimits)[number], string]> {
  const byAddress = addressKey(address);
  return phone
    ? [['signInFailuresByPhoneAddress', `${phone}|${byAddress}`], ['signInFailuresByPhone', phone], ['signInFailuresByAddress', byAddress]]
    : [['signInFailuresByAddress', byAddress]];
}

/**
 * Starts a session. While any sign-in limit of this phone or address is locked out, even the right
 * password is refused (RATE_LIMITED): the lock-out is checked before the password.
 */
export async function signIn(
  deps: IdentityDependencies,
  input: { phone: string; password: string },
  client: ClientInfo,
): Promise<{ token: string; user: User }> {
  const phone = e164Pattern.test(input.phone) ? input.phone : null;
  const limitContext = { clientAddress: client.address };
  const keys = signInKeys(phone, client.address);
  const event = { kind: 'auth.sign_in', actor: 'user', clientAddress: client.address, subject: phone } as const;
  for (const [name, key] of keys) {
    try {
      await deps.limits.check(name, key, limitContext);
    } catch (error) {
      await recordSecurityEvent(deps.pool, { ...event, outcome: 'denied', details: { reason: 'rate_limited', limit: name } });
      throw error;
    }
  }
  const user = phone ? await findUserByPhone(deps.pool, phone) : null;
  let valid: boolean;
  if (!user) {
    decoyHash ??= argon2Hash('zenpay-decoy-password', argon2Options);
    await argon2Verify(await decoyHash, input.password.slice(0, passwordLengthMax));
    valid = false;
  } else {
    valid = await argon2Verify(user.passwordHash, input.password.slice(0, passwordLengthMax + 1));
  }
  if (!valid) {
    await recordSecurityEvent(deps.pool, { ...event, outcome: 'failure', userId: user?.id ?? null, details: { reason: user ? 'password' : 'unknown_phone' } });
    const outcomes = await Promise.allSettled(keys.map(([name, key]) => deps.limits.fail(name, key, limitContext)));
    const refused = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (refused) throw refused.reason;
    throw new AppError('UNAUTHENTICATED', 'Wrong phone number or password');
  }
  await deps.limits.reset('signInFailuresByPhoneAddress', keys[0]![1]);
  const { token } = await createSession(deps.pool, user!.id, deps.config.SESSION_TTL_SECONDS, client);
  await recordSecurityEvent(deps.pool, { ...event, outcome: 'success', userId: user!.id });
  return { token, user: { id: user!.id, phone: user!.phone, name: user!.name, createdAt: user!.createdAt } };
}

/** The session a bearer token names, if it exists, is not revoked and has not expired. */
export async function resolveSession(db: Queryable, token: string): Promise<Session | null> {
  if (!token.startsWith(tokenPrefix) || token.length > 200) return null;
  const tokenHash = hashToken(token);
  const { rows } = await db.query<User & { expiresAt: Date; sessionId: string; stale: boolean }>(
    `SELECT u.id, u.phone, u.name, u.created_at AS "createdAt", s.expires_at AS "expiresAt", s.id AS "sessionId",
       (s.last_used_at IS NULL OR s.last_used_at < now() - interval '1 minute') AS stale
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`,
    [tokenHash],
  );
  const row = rows[0];
  if (!row) return null;
  // Last use is kept to the minute: one write a minute per session, not one per request.
  if (row.stale) void db.query(`UPDATE sessions SET last_used_at = now() WHERE token_hash = $1`, [tokenHash]).catch(() => {});
  return {
    id: row.sessionId,
    user: { id: row.id, phone: row.phone, name: row.name, createdAt: row.createdAt },
    tokenHash,
    expiresAt: row.expiresAt,
  };
}

export const sessionsChannel = 'zenpay_sessions';

/** Revokes a session and tells every API instance, so its open sockets close too. */
export async function revokeSession(db: Queryable, tokenHash: Buffer): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH revoked AS (UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING 1)
     SELECT pg_notify($2, $3) FROM revoked`,
    [tokenHash, sessionsChannel, tokenHash.toString('hex')],
  );
  return (rowCount ?? 0) > 0;
}

export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer ([A-Za-z0-9_\-]{1,200})$/.exec(header.trim());
  return match ? match[1]! : null;
}

export function requireSession(session: Session | null): Session {
  if (!session) throw unauthenticated();
  return session;
}
