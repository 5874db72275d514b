// Home: available and held balance as the server last said, and recent activity, both live.
import { connection } from '../client';
import { live } from '../live';
import { session } from '../session';
import { useStore } from '../store';
import { Amount, Page, TransactionRow } from '../ui';
import { formatTime } from '../words';

export function HomeScreen() {
  const state = useStore(live);
  const status = useStore(connection);
  const user = useStore(session)?.user;
  const wallet = state.wallet;
  return (
    <Page title={`Hello, ${user?.name.split(' ')[0] ?? 'there'}`}>
      <div class="card balance" aria-live="polite" data-testid="balance">
        <p class="label">Available</p>
        {wallet ? <p class="big"><Amount paise={wallet.available} /></p> : <p class="big muted">Loading…</p>}
        {wallet && wallet.held !== '0' && <p class="held">Held for pending payments: <Amount paise={wallet.held} /></p>}
        {wallet && status !== 'live' && state.walletReadAt && (
          <p class="stale">As of {formatTime(state.walletReadAt)}: {status === 'offline' ? 'you are offline' : 'reconnecting'}, it may have changed.</p>
        )}
      </div>
      <nav class="actions" aria-label="Money">
        <a class="action" href="/send">Send</a>
        <a class="action" href="/add-money">Add money</a>
        <a class="action" href="/withdraw">Withdraw</a>
      </nav>
      <h2>Recent activity</h2>
      {state.recent.length === 0 ? (
        <p class="muted">{wallet ? 'No payments yet. Add money to get started.' : 'Loading…'}</p>
      ) : (
        <ul class="transactions" data-testid="recent">
          {state.recent.map((id) => state.byId[id] && <TransactionRow key={id} transaction={state.byId[id]!} />)}
        </ul>
      )}
      <p><a href="/activity">All activity →</a></p>
    </Page>
  );
}
