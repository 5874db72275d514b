// The security event log (security_events): one row per decision a defender wants to read back, with
// when, who, from where and the outcome. Writers call recordSecurityEvent; operators read with
// listSecurityEvents. Details never hold a password, token, code or secret.
import type { Queryable } from './pool';

export type SecurityOutcome = 'success' | 'failure' | 'denied' | 'ignored' | 'flagged';

export interface SecurityEvent {
  /** Dotted lower-case name, e.g. 'bank.claim_denied', 'auth.sign_in'. */
  kind: string;
  outcome: SecurityOutcome;
  userId?: string | null;
  /** 'user', 'bank-webhook', 'temporal-signal', 'operator:<name>', 'system'. */
  actor: string;
  clientAddress?: string | null;
  subject?: string | null;
  details?: Record<string, unknown>;
}

export interface SecurityEventRow extends Required<Omit<SecurityEvent, 'details'>> {
  id: bigint;
  occurredAt: Date;
  details: Record<string, unknown>;
}

const detailsBytesMax = 4096;

export async function recordSecurityEvent(db: Queryable, event: SecurityEvent): Promise<void> {
  let details = JSON.stringify(event.details ?? {});
  // Bounded: an attacker's oversized payload is cut down to a note, never refused (the event matters).
  if (Buffer.byteLength(details) > detailsBytesMax) details = JSON.stringify({ truncated: true, bytes: Buffer.byteLength(details) });
  await db.query(
    `INSERT INTO security_events (kind, outcome, user_id, actor, client_address, subject, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [
      event.kind,
      event.outcome,
      event.userId ?? null,
      event.actor.slice(0, 128),
      event.clientAddress?.slice(0, 64) ?? null,
      event.subject?.slice(0, 255) ?? null,
      details,
    ],
  );
}

export interface SecurityEventFilter {
  kindPrefix?: string | null;
  userId?: string | null;
  subject?: string | null;
  /** Only events with an id below this (keyset paging, newest first). */
  beforeId?: bigint | null;
  limit: number;
}

export const securityEventPageMax = 500;

/** Newest first, at most securityEventPageMax. */
export async function listSecurityEvents(db: Queryable, filter: SecurityEventFilter): Promise<SecurityEventRow[]> {
  const limit = Math.min(Math.max(filter.limit, 1), securityEventPageMax);
  const { rows } = await db.query<SecurityEventRow>(
    `SELECT id, occurred_at AS "occurredAt", kind, outcome, user_id AS "userId", actor,
            client_address AS "clientAddress", subject, details
     FROM security_events
     WHERE ($1::text IS NULL OR starts_with(kind, $1)) AND ($2::uuid IS NULL OR user_id = $2)
       AND ($3::text IS NULL OR subject = $3) AND ($4::bigint IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [filter.kindPrefix ?? null, filter.userId ?? null, filter.subject ?? null, filter.beforeId === undefined || filter.beforeId === null ? null : String(filter.beforeId), limit],
  );
  return rows;
}
