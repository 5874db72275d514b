// The transactional outbox: events are appended in the same PostgreSQL transaction as the change they
// describe, numbered per user (seq), and announced with NOTIFY, which PostgreSQL sends only on commit.
import type { PoolClient, Queryable } from './pool';

export const eventsChannel = 'zenpay_events';

export type EventKind = 'transaction' | 'wallet';

export interface TransactionEventPayload {
  status: string;
  failureCode: string | null;
  bankRedirectUrl: string | null;
  updatedAt: string;
}

export interface WalletEventPayload {
  available: string;
  held: string;
  updatedAt: string;
}

export interface NewEvent {
  userId: string;
  kind: EventKind;
  transactionId: string | null;
  payload: TransactionEventPayload | WalletEventPayload;
}

export interface StoredEvent extends NewEvent {
  seq: bigint;
  createdAt: Date;
}

/**
 * Appends events and returns them with their seq. Stream rows are locked in ascending user id order;
 * the lock is held until commit, so within a user's stream seq order is commit order.
 */
export async function appendEvents(client: PoolClient, events: readonly NewEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const userIds = [...new Set(events.map((event) => event.userId))].sort();
  const { rows: streams } = await client.query<{ user_id: string; last_seq: bigint }>(
    `SELECT user_id, last_seq FROM event_streams WHERE user_id = ANY($1::uuid[]) ORDER BY user_id FOR UPDATE`,
    [userIds],
  );
  if (streams.length !== userIds.length) throw new Error('an event names a user without an event stream');
  const lastSeq = new Map(streams.map((stream) => [stream.user_id, stream.last_seq]));
  const numbered = events.map((event) => {
    const seq = lastSeq.get(event.userId)! + 1n;
    lastSeq.set(event.userId, seq);
    return { ...event, seq };
  });
  const { rows } = await client.query<{ created_at: Date }>(
    `WITH bumped AS (
       UPDATE event_streams AS stream SET last_seq = bump.last_seq
       FROM unnest($1::uuid[], $2::bigint[]) AS bump (user_id, last_seq)
       WHERE stream.user_id = bump.user_id)
     INSERT INTO events (user_id, seq, kind, transaction_id, payload)
     SELECT * FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::uuid[], $7::jsonb[])
     RETURNING created_at`,
    [
      [...lastSeq.keys()],
      [...lastSeq.values()].map(String),
      numbered.map((event) => event.userId),
      numbered.map((event) => String(event.seq)),
      numbered.map((event) => event.kind),
      numbered.map((event) => event.transactionId),
      numbered.map((event) => JSON.stringify(event.payload)),
    ],
  );
  // One notification per SQL transaction naming the users and transactions concerned; listeners read
  // the rows themselves, so a lost notification loses nothing (they re-read on reconnect).
  await client.query(`SELECT pg_notify($1, $2)`, [eventsChannel, announcement(numbered)]);
  return numbered.map((event, index) => ({ ...event, createdAt: rows[index]?.created_at ?? new Date() }));
}

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
const notifyPayloadBytesMax = 7_900;

/** "user:seq[:transaction]" per event, comma-separated; only the users if that would be too long. */
export function announcement(events: ReadonlyArray<{ userId: string; seq: bigint; transactionId: string | null }>): string {
  const full = events.map((event) => `${event.userId}:${event.seq}${event.transactionId ? `:${event.transactionId}` : ''}`).join(',');
  if (full.length <= notifyPayloadBytesMax) return full;
  return [...new Set(events.map((event) => event.userId))].join(',').slice(0, notifyPayloadBytesMax);
}

export interface Announced {
  userId: string;
  transactionId: string | null;
}

export function parseAnnouncement(payload: string): Announced[] {
  return payload
    .split(',')
    .filter(Boolean)
    .map((entry) => {
      const [userId, , transactionId] = entry.split(':');
      return { userId: userId!, transactionId: transactionId ?? null };
    });
}

export async function createEventStream(db: Queryable, userId: string): Promise<void> {
  await db.query(`INSERT INTO event_streams (user_id) VALUES ($1)`, [userId]);
}

export interface EventPage {
  events: StoredEvent[];
  prunedThroughSeq: bigint;
}

/** Events of one user after a seq, oldest first, at most limit of them. */
export async function readEvents(
  db: Queryable,
  userId: string,
  afterSeq: bigint,
  limit: number,
  kind?: EventKind,
): Promise<EventPage> {
  const { rows } = await db.query<{
    seq: bigint;
    kind: EventKind;
    transaction_id: string | null;
    payload: NewEvent['payload'];
    created_at: Date;
    pruned_through_seq: bigint;
  }>(
    `SELECT e.seq, e.kind, e.transaction_id, e.payload, e.created_at, s.pruned_through_seq
     FROM event_streams s LEFT JOIN LATERAL (
       SELECT * FROM events WHERE user_id = s.user_id AND seq > $2 AND ($4::text IS NULL OR kind = $4)
       ORDER BY seq LIMIT $3) e ON true
     WHERE s.user_id = $1`,
    [userId, String(afterSeq), limit, kind ?? null],
  );
  const prunedThroughSeq = rows[0]?.pruned_through_seq ?? 0n;
  const events = rows
    .filter((row) => row.seq !== null)
    .map((row) => ({
      userId,
      seq: row.seq,
      kind: row.kind,
      transactionId: row.transaction_id,
      payload: row.payload,
      createdAt: row.created_at,
    }));
  return { events, prunedThroughSeq };
}

/**
 * Deletes events older than the retention, at most batchMax of them, and remembers per user the
 * highest seq deleted, so a resume from before it is told to refetch instead of silently skipping.
 */
export async function pruneEvents(db: Queryable, olderThan: Date, batchMax: number): Promise<number> {
  const { rows } = await db.query<{ pruned: number }>(
    `WITH doomed AS (
       SELECT user_id, seq FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2),
     deleted AS (
       DELETE FROM events e USING doomed d WHERE e.user_id = d.user_id AND e.seq = d.seq RETURNING e.user_id, e.seq),
     marked AS (
       UPDATE event_streams s SET pruned_through_seq = GREATEST(s.pruned_through_seq, m.max_seq)
       FROM (SELECT user_id, max(seq) AS max_seq FROM deleted GROUP BY user_id) m
       WHERE s.user_id = m.user_id)
     SELECT count(*)::int AS pruned FROM deleted`,
    [olderThan, batchMax],
  );
  return rows[0]?.pruned ?? 0;
}
