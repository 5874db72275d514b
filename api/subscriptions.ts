// Subscription streams: each reads its user's outbox events by cursor (replay), then waits for the
// event hub to wake it and reads again (live). One code path, so replay and live cannot disagree.
import DataLoader from 'dataloader';
import { AppError } from '../common/errors';
import { observeOutboxDelivery } from '../common/metrics';
import type { EventKind, EventPage, EventPageRequest, StoredEvent, TransactionEventPayload, WalletEventPayload } from '../db/events';
import { readEventPages } from '../db/events';
import type { Queryable } from '../db/pool';
import { findTransactions, type TransactionRow } from '../db/transactions';
import { WakeSignal, type EventHub } from './event-hub';

const eventPageSizeMax = 200;
const idleWaitMs = 30_000;

export const encodeEventCursor = (seq: bigint): string => Buffer.from(`e:${seq}`).toString('base64url');

export function decodeEventCursor(cursor: string): bigint {
  const decoded = /^e:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!decoded || cursor.length > 40) throw new AppError('BAD_USER_INPUT', 'after is not an eventCursor from this API');
  return BigInt(decoded[1]!);
}

/**
 * One outbox read per wake-up of this API instance, not one per subscriber: a notification wakes every
 * stream it names in the same tick, and their reads (and their transactions' reads) go to PostgreSQL
 * together. No caching: each load is a fresh read.
 */
interface Readers {
  pages: DataLoader<EventPageRequest, EventPage, string>;
  transactions: DataLoader<string, TransactionRow | null>;
}
const readersByDb = new WeakMap<Queryable, Readers>();
/** Streams read together at most; OUTBOX_READ_BATCH_MAX=1 reads for each subscriber alone (the benchmark's A/B). */
const outboxReadBatchMax = Math.max(1, Math.min(1000, Number(process.env.OUTBOX_READ_BATCH_MAX ?? 500) || 500));

function readers(db: Queryable): Readers {
  let found = readersByDb.get(db);
  if (!found) {
    found = {
      pages: new DataLoader((requests) => readEventPages(db, requests), {
        cache: false,
        maxBatchSize: outboxReadBatchMax,
      }),
      transactions: new DataLoader(
        async (ids) => {
          const rows = await findTransactions(db, ids);
          return ids.map((id) => rows.get(id) ?? null);
        },
        { cache: false, maxBatchSize: outboxReadBatchMax },
      ),
    };
    readersByDb.set(db, found);
  }
  return found;
}

/** A transaction as it is now, read together with whatever else this instance reads in the same tick. */
export async function loadTransaction(db: Queryable, id: string): Promise<TransactionRow | null> {
  return readers(db).transactions.load(id);
}

async function currentSeq(db: Queryable, userId: string): Promise<bigint> {
  const { rows } = await db.query<{ last_seq: bigint }>(`SELECT last_seq FROM event_streams WHERE user_id = $1`, [userId]);
  return rows[0]?.last_seq ?? 0n;
}

export interface StreamOptions {
  db: Queryable;
  hub: EventHub;
  userId: string;
  kind: EventKind;
  afterSeq: bigint | null;
  /** Ends the stream when aborted (socket closed, session revoked). */
  signal: AbortSignal;
}

/** The user's events of one kind, after a cursor (or from now), in seq order and in pages, until aborted. */
export async function* eventStream(options: StreamOptions): AsyncGenerator<StoredEvent[]> {
  const wake = new WakeSignal();
  const unwatch = options.hub.watch(options.userId, wake.wake);
  const onAbort = (): void => wake.wake();
  options.signal.addEventListener('abort', onAbort);
  try {
    // Watching starts before the cursor is read, so nothing committed in between is missed.
    let cursor = options.afterSeq ?? (await currentSeq(options.db, options.userId));
    // Events replayed after a cursor are old on purpose: only live ones measure the outbox's lag.
    let live = options.afterSeq === null;
    while (!options.signal.aborted) {
      const page = await readers(options.db).pages.load({ userId: options.userId, afterSeq: cursor, limit: eventPageSizeMax, kind: options.kind });
      if (options.afterSeq !== null && cursor < page.prunedThroughSeq) {
        throw new AppError('BAD_USER_INPUT', 'Events after this cursor were pruned; refetch the transactions and subscribe again without after', {
          reason: 'CURSOR_PRUNED',
        });
      }
      if (options.signal.aborted) return;
      if (page.events.length > 0) {
        cursor = page.events.at(-1)!.seq;
        if (live) observeOutboxDelivery(page.events);
        yield page.events;
      }
      live ||= page.events.length < eventPageSizeMax;
      if (page.events.length < eventPageSizeMax) await wake.wait(idleWaitMs);
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    unwatch();
  }
}

/** Each transaction as it was at its event: the current immutable fields with the event's status. */
export async function transactionsAtEvents(db: Queryable, events: readonly StoredEvent[]): Promise<TransactionRow[]> {
  const rows = await readers(db).transactions.loadMany([...new Set(events.map((event) => event.transactionId!))]);
  const byId = new Map(rows.flatMap((row) => (row && !(row instanceof Error) ? [[row.id, row] as const] : [])));
  const failed = rows.find((row): row is Error => row instanceof Error);
  if (failed) throw failed;
  return events.map((event) => {
    const transaction = byId.get(event.transactionId!);
    if (!transaction) throw new Error(`event ${event.seq} of ${event.userId} names a missing transaction`);
    return transactionAtEvent(transaction, event);
  });
}

function transactionAtEvent(transaction: TransactionRow, event: StoredEvent): TransactionRow {
  const payload = event.payload as TransactionEventPayload;
  return {
    ...transaction,
    status: payload.status as TransactionRow['status'],
    failureCode: payload.failureCode,
    bankRedirectUrl: payload.bankRedirectUrl,
    updatedAt: new Date(payload.updatedAt),
  };
}

export function walletAtEvent(event: StoredEvent): { available: bigint; held: bigint; updatedAt: Date } {
  const payload = event.payload as WalletEventPayload;
  return { available: BigInt(payload.available), held: BigInt(payload.held), updatedAt: new Date(payload.updatedAt) };
}
