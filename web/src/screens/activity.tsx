// Activity: the Relay connection transactions(first, after, filter), page after page as the list is
// scrolled (or "Load more" pressed), filtered by kind and status, kept live; and one transaction's details
// with the status changes the server pushed for it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError, describeFailure } from '../errors';
import { TransactionFields } from '../fragments';
import { graphql, readFragment, type VariablesOf } from '../graphql';
import { live, type Transaction } from '../live';
import { useStore } from '../store';
import { Amount, Button, ErrorText, Page, Select, StatusBadge, TransactionRow } from '../ui';
import { formatDateTime, kindWords, statusWords } from '../words';
import { useTransaction } from './add-money';

const pageSize = 25;
const Transactions = graphql(
  `query Transactions($first: Int!, $after: String, $filter: TransactionFilter) {
    transactions(first: $first, after: $after, filter: $filter) {
      edges { cursor node { ...TransactionFields } }
      pageInfo { hasNextPage endCursor }
    }
  }`,
  [TransactionFields],
);
type Kind = 'TRANSFER' | 'ON_RAMP' | 'OFF_RAMP';
type Status = VariablesOf<typeof Transactions>['filter'] extends infer F ? F extends { status?: infer S } ? NonNullable<S> : never : never;

export function ActivityScreen() {
  const state = useStore(live);
  const [kind, setKind] = useState('');
  const [status, setStatus] = useState('');
  const [ids, setIds] = useState<string[]>([]);
  const [endCursor, setEndCursor] = useState<string | null>(null);
  const [hasNextPage, setHasNextPage] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const sentinel = useRef<HTMLDivElement>(null);
  const [byId, setById] = useState<Record<string, Transaction>>({});

  const filter = { ...(kind ? { kind: kind as Kind } : {}), ...(status ? { status: status as Status } : {}) };
  const loadPage = async (after: string | null, reset = false) => {
    const mine = reset ? ++generation.current : generation.current;
    setLoading(true);
    const result = await client.query(Transactions, { first: pageSize, after, filter }).toPromise();
    if (mine !== generation.current) return;
    setLoading(false);
    if (!result.data) return setError(describeError(result.error));
    setError(null);
    const nodes = result.data.transactions.edges.map((edge) => readFragment(TransactionFields, edge.node));
    setById((current) => ({ ...(reset ? {} : current), ...Object.fromEntries(nodes.map((node) => [node.id, node])) }));
    setIds((current) => [...(reset ? [] : current), ...nodes.map((node) => node.id).filter((id) => reset || !current.includes(id))]);
    setEndCursor(result.data.transactions.pageInfo.endCursor ?? null);
    setHasNextPage(result.data.transactions.pageInfo.hasNextPage);
  };
  useEffect(() => {
    setIds([]);
    setHasNextPage(true);
    void loadPage(null, true);
  }, [kind, status]);

  // Infinite scroll: the next page when the end of the list comes into view.
  useEffect(() => {
    const target = sentinel.current;
    if (!target || !hasNextPage) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !loading && hasNextPage) void loadPage(endCursor);
    }, { rootMargin: '200px' });
    observer.observe(target);
    return () => observer.disconnect();
  }, [endCursor, hasNextPage, loading]);

  // New transactions pushed live that match the filter go on top; known ones take their live status.
  const matches = (t: { kind: string; status: string }) => (!kind || t.kind === kind) && (!status || t.status === status);
  const fresh = state.recent.filter((id) => !ids.includes(id) && state.byId[id] && matches(state.byId[id]!)
    && (ids.length === 0 || Date.parse(state.byId[id]!.createdAt) > Date.parse((byId[ids[0]!] ?? state.byId[id]!).createdAt)));
  const shown = [...fresh, ...ids];

  return (
    <Page title="Activity">
      <div class="filters">
        <Select label="Kind" name="kind" value={kind} onChange={setKind} options={[['', 'All kinds'], ...Object.entries(kindWords)]} />
        <Select label="Status" name="status" value={status} onChange={setStatus} options={[['', 'All statuses'], ...Object.entries(statusWords)]} />
      </div>
      <ErrorText message={error} />
      {shown.length === 0 && !loading && !error ? <p class="muted">Nothing here yet.</p> : (
        <ul class="transactions" data-testid="activity" aria-busy={loading ? 'true' : 'false'}>
          {shown.map((id) => {
            const t = state.byId[id] ?? byId[id];
            return t && <TransactionRow key={id} transaction={t} />;
          })}
        </ul>
      )}
      <div ref={sentinel} class="sentinel" />
      {hasNextPage ? (
        <Button variant="secondary" type="button" busy={loading} onClick={() => void loadPage(endCursor)}>Load more</Button>
      ) : (
        shown.length > 0 && <p class="muted end" data-testid="activity-end">That is everything ({shown.length}).</p>
      )}
    </Page>
  );
}

export function TransactionScreen(props: { id: string }) {
  const { transaction: t, error } = useTransaction(props.id);
  const timeline = useStore(live).timelines[props.id] ?? [];
  if (!t) return <Page title="Payment" back="/activity"><ErrorText message={error} />{!error && <p class="muted">Loading…</p>}</Page>;
  return (
    <Page title={kindWords[t.kind] ?? 'Payment'} back="/activity">
      <div class="card" data-testid="detail" data-status={t.status}>
        <p class="big"><Amount paise={t.amount} class={t.direction === 'DEBIT' ? 'debit' : 'credit'} /></p>
        <StatusBadge status={t.status} />
        <dl class="review">
          <dt>{t.kind === 'TRANSFER' ? (t.direction === 'DEBIT' ? 'To' : 'From') : 'Bank'}</dt><dd>{t.counterparty ?? '—'}</dd>
          {t.note && <><dt>Note</dt><dd>{t.note}</dd></>}
          {(t.status === 'FAILED' || t.status === 'EXPIRED') && <><dt>Why</dt><dd>{describeFailure(t.failureCode)}</dd></>}
          <dt>Reference</dt><dd class="mono">{t.id}</dd>
        </dl>
        {t.status === 'AWAITING_BANK' && t.bankRedirectUrl && <p><a class="button primary" href={t.bankRedirectUrl}>Approve at your bank</a></p>}
      </div>
      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        <li><span>Created</span> <time dateTime={t.createdAt}>{formatDateTime(t.createdAt)}</time></li>
        {timeline.map((entry) => <li key={`${entry.status}-${entry.at}`}><span>{statusWords[entry.status] ?? entry.status}</span> <time dateTime={entry.at}>{formatDateTime(entry.at)}</time></li>)}
        {!timeline.some((entry) => entry.status === t.status) && t.status !== 'PENDING' && (
          <li><span>{statusWords[t.status]}</span> <time dateTime={t.updatedAt}>{formatDateTime(t.updatedAt)}</time></li>
        )}
      </ol>
      <p class="hint">Status changes are pushed by the server as they happen; earlier ones show their latest state.</p>
    </Page>
  );
}
