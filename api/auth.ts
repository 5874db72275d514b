// Users, passwords and sessions. Passwords are hashed with argon2id at OWASP's parameters; session
// tokens are 256 random bits, given to the client once and stored only as their SHA-256.
import { hash as argon2Hash, verify as argon2Verify, Algorithm } from '@node-rs/argon2';
import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { AppError, badInput, unauthenticated } from '../common/errors';
import { e164Pattern, parsePhone } from '../common/phone';
import { createEventStream } from '../db/events';
import { createWalletAccount } from '../db/ledger';
import { withTransaction, type Pool, type Queryable } from '../db/pool';

// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB of memory, 2 iterations, 1 degree of parallelism.
const argon2Options = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
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
  user: User;
  tokenHash: Buffer;
  expiresAt: Date;
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

function validateName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || [...trimmed].length > nameLengthMax) {
    throw badInput(`Names are 1 to ${nameLengthMax} characters`, 'name');
  }
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw badInput('Names cannot contain control characters', 'name');
  return trimmed;
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

async function createSession(db: Queryable, userId: string, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
  const token = tokenPrefix + randomBytes(tokenBytes).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  await db.query(`INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`, [
    hashToken(token),
    userId,
    expiresAt,
  ]);
  return { token, expiresAt };
}

export interface SignUpInput {
  phone: string;
  name: string;
  password: string;
}

export async function signUp(pool: Pool, input: SignUpInput, ttlSeconds: number): Promise<{ token: string; user: User }> {
  const phone = parsePhone(input.phone);
  const name = validateName(input.name);
  const passwordHash = await argon2Hash(validatePassword(input.password), argon2Options);
  const id = uuidv7();
  try {
    return await withTransaction(pool, async (client) => {
      const { rows } = await client.query<User>(
        `INSERT INTO users (id, phone, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${userColumns}`,
        [id, phone, name, passwordHash],
      );
      await createWalletAccount(client, id);
      await createEventStream(client, id);
      const { token } = await createSession(client, id, ttlSeconds);
      return { token, user: rows[0]! };
    });
  } catch (error) {
    if ((error as { code?: string; constraint?: string }).constraint === 'users_phone_key') {
      throw badInput('A user with this phone number already exists', 'phone');
    }
    throw error;
  }
}

// Verifying against a fixed hash when the phone is unknown keeps both answers equally slow.
let decoyHash: Promise<string> | undefined;

export async function signIn(
  pool: Pool,
  input: { phone: string; password: string },
  ttlSeconds: number,
): Promise<{ token: string; user: User }> {
  const failure = new AppError('UNAUTHENTICATED', 'Wrong phone number or password');
  const phone = e164Pattern.test(input.phone) ? input.phone : null;
  const user = phone ? await findUserByPhone(pool, phone) : null;
  if (!user) {
    decoyHash ??= argon2Hash('zenpay-decoy-password', argon2Options);
    await argon2Verify(await decoyHash, input.password.slice(0, passwordLengthMax));
    throw failure;
  }
  if (!(await argon2Verify(user.passwordHash, input.password.slice(0, passwordLengthMax + 1)))) throw failure;
  const { token } = await createSession(pool, user.id, ttlSeconds);
  return { token, user: { id: user.id, phone: user.phone, name: user.name, createdAt: user.createdAt } };
}

/** The session a bearer token names, if it exists, is not revoked and has not expired. */
export async function resolveSession(db: Queryable, token: string): Promise<Session | null> {
  if (!token.startsWith(tokenPrefix) || token.length > 200) return null;
  const tokenHash = hashToken(token);
  const { rows } = await db.query<User & { expiresAt: Date }>(
    `SELECT u.id, u.phone, u.name, u.created_at AS "createdAt", s.expires_at AS "expiresAt"
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`,
    [tokenHash],
  );
  const row = rows[0];
  if (!row) return null;
  return { user: { id: row.id, phone: row.phone, name: row.name, createdAt: row.createdAt }, tokenHash, expiresAt: row.expiresAt };
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
