// Operator accounts and sessions, apart from users': their own tables, their own token prefix (zpo_),
// argon2id passwords as users' (api/auth.ts). Sign-in failures count against the sign-in limits under
// keys of their own; every sign-in, sign-out and failure is audited and a security event.
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { AppError, badInput } from '../common/errors';
import type { Pool, Queryable } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import { argon2Options } from './auth';
import { addressKey, type ClientInfo } from './client-address';
import type { RateLimits } from './rate-limits';

export const operatorNamePattern = /^[a-z][a-z0-9._-]{1,63}$/;
const operatorTokenPrefix = 'zpo_';
const passwordLengthMin = 12;
const passwordLengthMax = 128;

export interface Operator {
  id: string;
  name: string;
  createdAt: Date;
}

export interface OperatorSession {
  operator: Operator;
  tokenHash: Buffer;
  expiresAt: Date;
}

const tokenHashOf = (token: string): Buffer => createHash('sha256').update(token).digest();

export function validateOperatorName(name: string): string {
  if (!operatorNamePattern.test(name)) throw badInput('An operator name is 2 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a letter', 'name');
  return name;
}

export function validateOperatorPassword(password: string): string {
  const length = [...password].length;
  if (length < passwordLengthMin || length > passwordLengthMax) throw badInput(`Operator passwords are ${passwordLengthMin} to ${passwordLengthMax} characters`, 'password');
  return password;
}

/** A random password for a new operator (shown once by the command that creates the account). */
export const generateOperatorPassword = (): string => randomBytes(18).toString('base64url');

/** Creates an operator account (the command `npm run operator -- create <name>`); audited. */
export async function createOperator(db: Queryable, name: string, password: string): Promise<Operator> {
  const passwordHash = await argon2Hash(validateOperatorPassword(password), argon2Options);
  const { rows } = await db.query<Operator>(
    `INSERT INTO operators (id, name, password_hash) VALUES ($1, $2, $3) RETURNING id, name, created_at AS "createdAt"`,
    [uuidv7(), validateOperatorName(name), passwordHash],
  );
  await recordOperatorAction(db, { operatorName: name, action: 'create_operator', subject: name, via: 'command', outcome: 'success' });
  return rows[0]!;
}

/** Disables an operator and ends their sessions (the command `npm run operator -- disable <name>`). */
export async function disableOperator(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(`UPDATE operators SET disabled_at = now() WHERE name = $1 AND disabled_at IS NULL RETURNING id`, [name]);
  if (!rows[0]) return false;
  await db.query(`UPDATE operator_sessions SET revoked_at = now() WHERE operator_id = $1 AND revoked_at IS NULL`, [rows[0].id]);
  await recordOperatorAction(db, { operatorName: name, action: 'disable_operator', subject: name, via: 'command', outcome: 'success' });
  return true;
}

export interface OperatorAction {
  operatorName: string;
  action: string;
  subject?: string | null;
  reason?: string | null;
  via: 'operator-api' | 'temporal-ui' | 'command';
  clientAddress?: string | null;
  outcome: string;
  details?: Record<string, unknown>;
}

/** Appends to the operators' audit (operator_actions) and the security event log. */
export async function recordOperatorAction(db: Queryable, action: OperatorAction): Promise<void> {
  await db.query(
    `INSERT INTO operator_actions (operator_name, action, subject, reason, via, client_address, outcome, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [action.operatorName.slice(0, 64), action.action, action.subject?.slice(0, 255) ?? null, action.reason?.slice(0, 500) ?? null, action.via,
      action.clientAddress?.slice(0, 64) ?? null, action.outcome, JSON.stringify(action.details ?? {})],
  );
  await recordSecurityEvent(db, {
    kind: `operator.${action.action}`,
    outcome: action.outcome === 'success' ? 'success' : action.outcome === 'denied' ? 'denied' : 'failure',
    actor: `operator:${action.operatorName}`,
    clientAddress: action.clientAddress ?? null,
    subject: action.subject ?? null,
    details: { via: action.via, reason: action.reason ?? null, ...action.details },
  });
}

// Verifying against a fixed hash when the name is unknown keeps both answers equally slow.
let decoyHash: Promise<string> | undefined;

/** Starts an operator session; a wrong name or password is UNAUTHENTICATED and counts as a sign-in failure. */
export async function signInOperator(
  deps: { pool: Pool; limits: RateLimits; sessionTtlSeconds: number },
  input: { name: string; password: string },
  client: ClientInfo,
): Promise<{ token: string; expiresAt: Date; operator: Operator }> {
  const name = operatorNamePattern.test(input.name) ? input.name : null;
  const keys: Array<['signInFailuresByPhone' | 'signInFailuresByAddress', string]> = [['signInFailuresByAddress', `operator:${addressKey(client.address)}`]];
  if (name) keys.push(['signInFailuresByPhone', `operator:${name}`]);
  const context = { clientAddress: client.address };
  for (const [limit, key] of keys) await deps.limits.check(limit, key, context);
  const { rows } = name
    ? await deps.pool.query<Operator & { passwordHash: string }>(
        `SELECT id, name, created_at AS "createdAt", password_hash AS "passwordHash" FROM operators WHERE name = $1 AND disabled_at IS NULL`,
        [name],
      )
    : { rows: [] };
  const found = rows[0];
  decoyHash ??= argon2Hash('zenpay-operator-decoy-password', argon2Options);
  const valid = await argon2Verify(found?.passwordHash ?? (await decoyHash), input.password.slice(0, passwordLengthMax + 1));
  if (!found || !valid) {
    await recordOperatorAction(deps.pool, { operatorName: name ?? 'unknown', action: 'sign_in', via: 'operator-api', clientAddress: client.address, outcome: 'failure', details: { reason: found ? 'password' : 'unknown_operator' } });
    for (const [limit, key] of keys) await deps.limits.fail(limit, key, context);
    throw new AppError('UNAUTHENTICATED', 'Wrong operator name or password');
  }
  const token = operatorTokenPrefix + randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + deps.sessionTtlSeconds * 1000);
  await deps.pool.query(`INSERT INTO operator_sessions (token_hash, operator_id, expires_at, client_address) VALUES ($1, $2, $3, $4)`, [
    tokenHashOf(token),
    found.id,
    expiresAt,
    client.address,
  ]);
  await recordOperatorAction(deps.pool, { operatorName: found.name, action: 'sign_in', via: 'operator-api', clientAddress: client.address, outcome: 'success' });
  return { token, expiresAt, operator: { id: found.id, name: found.name, createdAt: found.createdAt } };
}

/** The operator session a bearer token names (live, of an enabled operator), or null. A user's token never matches. */
export async function resolveOperatorSession(db: Queryable, token: string): Promise<OperatorSession | null> {
  if (!token.startsWith(operatorTokenPrefix) || token.length > 200) return null;
  const tokenHash = tokenHashOf(token);
  const { rows } = await db.query<Operator & { expiresAt: Date }>(
    `SELECT o.id, o.name, o.created_at AS "createdAt", s.expires_at AS "expiresAt"
     FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
     WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND o.disabled_at IS NULL`,
    [tokenHash],
  );
  const row = rows[0];
  return row ? { operator: { id: row.id, name: row.name, createdAt: row.createdAt }, tokenHash, expiresAt: row.expiresAt } : null;
}

export async function signOutOperator(db: Queryable, session: OperatorSession, client: ClientInfo): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE operator_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`, [session.tokenHash]);
  await recordOperatorAction(db, { operatorName: session.operator.name, action: 'sign_out', via: 'operator-api', clientAddress: client.address, outcome: 'success' });
  return (rowCount ?? 0) > 0;
}
