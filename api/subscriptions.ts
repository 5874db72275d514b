// Subscription streams: each reads its user's outbox events by cursor (replay), then waits for the
// event hub to wake it and reads again (live). One code path, so replay and live cannot disagree.
import { AppError } from '../common/errors';
import type { EventKind, StoredEvent, TransactionEventPayload, WalletEventPayload } from '../db/events';
import { readEvents } from '../db/events';
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
    while (!options.signal.aborted) {
      const page = await readEvents(options.db, options.userId, cursor, eventPageSizeMax, options.kind);
      if (options.afterSeq !== null && cursor < page.prunedThroughSeq) {
        throw new AppError('BAD_USER_INPUT', 'Events after this cursor were pruned; refetch the transactions and subscribe again without after', {
          reason: 'CURSOR_PRUNED',
        });
      }
      if (options.signal.aborted) return;
      if (page.events.length > 0) {
        cursor = page.events.at(-1)!.seq;
        yield page.events;
      }
      if (page.events.length < eventPageSizeMax) await wake.wait(idleWaitMs);
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    unwatch();
  }
}

/** Each transaction as it was at its event: the current immutable fields with the event's status. */
export async function transactionsAtEvents(db: Queryable, events: readonly StoredEvent[]): Promise<TransactionRow[]> {
  const rows = await findTransactions(db, events.map((event) => event.transactionId!));
  return events.map((event) => {
    const transaction = rows.get(event.transactionId!);
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
