// A user's own sessions: list them (created, last used, client address, user agent), revoke one, sign
// out everywhere, change the password (which ends every other session). Each revocation is announced
// (NOTIFY) so that every API instance closes the sockets of those sessions at once.
import { hash as argon2Hash, verify as argon2Verify, Algorithm } from '@node-rs/argon2';
import { AppError, badInput } from '../common/errors';
import { withTransaction, type Queryable } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import { sessionsChannel, type IdentityDependencies, type Session } from './auth';
import { addressKey, type ClientInfo } from './client-address';

const argon2Options = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const passwordLengthMin = 8;
const passwordLengthMax = 128;
export const sessionsListedMax = 100;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SessionView {
  id: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date;
  clientAddress: string | null;
  userAgent: string | null;
  current: boolean;
}

/** The user's live sessions, newest first, at most sessionsListedMax. */
export async function listSessions(db: Queryable, session: Session): Promise<SessionView[]> {
  const { rows } = await db.query<SessionView>(
    `SELECT id, created_at AS "createdAt", last_used_at AS "lastUsedAt", expires_at AS "expiresAt",
       client_address AS "clientAddress", user_agent AS "userAgent", token_hash = $2 AS current
     FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
     ORDER BY created_at DESC LIMIT $3`,
    [session.user.id, session.tokenHash, sessionsListedMax],
  );
  return rows;
}

/** Revokes the user's live sessions that match, announcing each; returns how many. */
async function revokeWhere(db: Queryable, userId: string, condition: string, values: unknown[]): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `WITH revoked AS (
       UPDATE sessions SET revoked_at = now()
       WHERE user_id = $1 AND revoked_at IS NULL AND ${condition} RETURNING token_hash),
     announced AS (SELECT pg_notify('${sessionsChannel}', encode(token_hash, 'hex')) FROM revoked)
     SELECT (SELECT count(*) FROM announced)::int AS count`,
    [userId, ...values],
  );
  return rows[0]?.count ?? 0;
}

function securityEvent(session: Session, client: ClientInfo, kind: string, details: Record<string, unknown>) {
  return { kind, outcome: 'success' as const, userId: session.user.id, actor: 'user', clientAddress: client.address, subject: session.id, details };
}

/** Revokes one of the viewer's sessions by its id; false when there is no such live session of theirs. */
export async function revokeSessionById(deps: IdentityDependencies, session: Session, id: string, client: ClientInfo): Promise<boolean> {
  if (!uuidPattern.test(id)) throw badInput('id is not a session id', 'id');
  const count = await revokeWhere(deps.pool, session.user.id, 'id = $2', [id]);
  if (count > 0) await recordSecurityEvent(deps.pool, securityEvent(session, client, 'auth.session_revoked', { revokedSessionId: id.toLowerCase() }));
  return count > 0;
}

/** Ends every session of the viewer, this one included; returns how many ended. */
export async function signOutEverywhere(deps: IdentityDependencies, session: Session, client: ClientInfo): Promise<number> {
  const count = await revokeWhere(deps.pool, session.user.id, 'true', []);
  await recordSecurityEvent(deps.pool, securityEvent(session, client, 'auth.signed_out_everywhere', { sessions: count }));
  return count;
}

/**
 * Changes the password after checking the current one (wrong tries count like failed sign-ins of the
 * phone), and ends every other session of the user in the same SQL transaction.
 */
export async function changePassword(
  deps: IdentityDependencies,
  session: Session,
  input: { currentPassword: string; newPassword: string },
  client: ClientInfo,
): Promise<number> {
  const length = [...input.newPassword].length;
  if (length < passwordLengthMin || length > passwordLengthMax) {
    throw badInput(`Passwords are ${passwordLengthMin} to ${passwordLengthMax} characters`, 'newPassword');
  }
  const limitKey = `${session.user.phone}|${addressKey(client.address)}`;
  const limitContext = { userId: session.user.id, clientAddress: client.address };
  await deps.limits.check('signInFailuresByPhoneAddress', limitKey, limitContext);
  const { rows } = await deps.pool.query<{ passwordHash: string }>(`SELECT password_hash AS "passwordHash" FROM users WHERE id = $1`, [session.user.id]);
  if (!rows[0] || !(await argon2Verify(rows[0].passwordHash, input.currentPassword.slice(0, passwordLengthMax + 1)))) {
    await recordSecurityEvent(deps.pool, { ...securityEvent(session, client, 'auth.password_changed', { reason: 'current_password' }), outcome: 'failure' });
    await deps.limits.fail('signInFailuresByPhoneAddress', limitKey, limitContext);
    throw new AppError('BAD_USER_INPUT', 'The current password is wrong', { field: 'currentPassword' });
  }
  const passwordHash = await argon2Hash(input.newPassword, argon2Options);
  const revoked = await withTransaction(deps.pool, async (db) => {
    await db.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [session.user.id, passwordHash]);
    return revokeWhere(db, session.user.id, 'token_hash <> $2', [session.tokenHash]);
  });
  await recordSecurityEvent(deps.pool, securityEvent(session, client, 'auth.password_changed', { otherSessionsRevoked: revoked }));
  return revoked;
}
