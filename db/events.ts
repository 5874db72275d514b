// The transactional outbox: events are appended in the same PostgreSQL transaction as the change they
// describe, numbered per user (seq), and announced with NOTIFY, which PostgreSQL sends only on commit.
import type { Queryable } from './pool';

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
 * Appends, in the caller's SQL transaction, the status event of a transaction for each of
 * transactionUsers and a wallet event (current balance) for each of walletUsers, then one NOTIFY
 * naming them all (PostgreSQL sends it on commit). Done by zp_append_events in one round trip; it
 * locks the users' stream rows in ascending id order, so within a stream seq order is commit order.
 */
export async function appendEvents(
  db: Queryable,
  transactionId: string | null,
  transactionUsers: readonly string[],
  walletUsers: readonly string[],
): Promise<void> {
  if (transactionUsers.length === 0 && walletUsers.length === 0) return;
  await db.query(`SELECT zp_append_events($1, $2::uuid[], $3::uuid[])`, [transactionId, transactionUsers, walletUsers]);
}

/** Parses a NOTIFY payload of zp_append_events: "user:seq[:transaction]", comma-separated. */
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

export interface EventPage {
  events: StoredEvent[];
  prunedThroughSeq: bigint;
}

export interface EventPageRequest {
  userId: string;
  afterSeq: bigint;
  limit: number;
  kind?: EventKind | undefined;
}

/** Events of one user after a seq, oldest first, at most limit of them. */
export async function readEvents(db: Queryable, userId: string, afterSeq: bigint, limit: number, kind?: EventKind): Promise<EventPage> {
  return (await readEventPages(db, [{ userId, afterSeq, limit, kind }]))[0]!;
}

/**
 * Several readers' pages in one round trip (an API instance woken for many subscribers at once reads
 * them together): each request's events after its seq, oldest first, at most its limit, in request order.
 */
export async function readEventPages(db: Queryable, requests: readonly EventPageRequest[]): Promise<EventPage[]> {
  if (requests.length === 0) return [];
  const { rows } = await db.query<{
    request: number;
    seq: bigint | null;
    kind: EventKind;
    transaction_id: string | null;
    payload: NewEvent['payload'];
    created_at: Date;
    pruned_through_seq: bigint;
  }>(
    `SELECT w.request::int AS request, e.seq, e.kind, e.transaction_id, e.payload, e.created_at, s.pruned_through_seq
     FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::text[]) WITH ORDINALITY AS w(user_id, after_seq, page_limit, kind, request)
     JOIN event_streams s ON s.user_id = w.user_id
     LEFT JOIN LATERAL (
       SELECT * FROM events WHERE user_id = w.user_id AND seq > w.after_seq AND (w.kind IS NULL OR kind = w.kind)
       ORDER BY seq LIMIT w.page_limit) e ON true
     ORDER BY w.request, e.seq`,
    [
      requests.map((request) => request.userId),
      requests.map((request) => String(request.afterSeq)),
      requests.map((request) => request.limit),
      requests.map((request) => request.kind ?? null),
    ],
  );
  const pages: EventPage[] = requests.map(() => ({ events: [], prunedThroughSeq: 0n }));
  for (const row of rows) {
    const index = row.request - 1;
    const page = pages[index]!;
    page.prunedThroughSeq = row.pruned_through_seq;
    if (row.seq === null) continue;
    page.events.push({
      userId: requests[index]!.userId,
      seq: row.seq,
      kind: row.kind,
      transactionId: row.transaction_id,
      payload: row.payload,
      createdAt: row.created_at,
    });
  }
  return pages;
}

/**
 * Deletes events older than the retention, at most batchMax of them, and remembers per user the
 * highest seq deleted, so a resume from before it is told to refetch instead of silently skipping.
 */
export async function pruneEvents(db: Queryable, olderThan: Date, batchMax: number): Promise<number> {
  const { rows } = await db.query<{ pruned: number }>(`SELECT zp_prune_events($1, $2) AS pruned`, [olderThan, batchMax]);
  return rows[0]?.pruned ?? 0;
}
