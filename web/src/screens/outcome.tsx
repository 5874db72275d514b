// What became of a payment, followed live until it ends.
import { describeFailure } from '../errors';
import { live, type Transaction } from '../live';
import { useStore } from '../store';
import { Amount, StatusBadge } from '../ui';

export function Outcome(props: { transaction: Transaction; doneText: string }) {
  // The live copy (pushed by transactionUpdated) wins over the mutation's answer once newer.
  const state = useStore(live);
  const t = state.byId[props.transaction.id] ?? props.transaction;
  return (
    <div class="card outcome" role="status" aria-live="polite" data-testid="outcome" data-status={t.status}>
      <p class="big"><Amount paise={t.amount} /></p>
      <StatusBadge status={t.status} />
      {t.status === 'COMPLETED' && <p>{props.doneText}</p>}
      {(t.status === 'FAILED' || t.status === 'EXPIRED') && <p>{describeFailure(t.failureCode)}</p>}
      {(t.status === 'PENDING' || t.status === 'AWAITING_BANK' || t.status === 'IN_REVIEW') && <p>{t.status === 'IN_REVIEW' ? 'Our team is checking this payment; the money is held meanwhile. ' : ''}We will update this as soon as it changes. You can leave this page.</p>}
      <p><a href={`/activity/${t.id}`}>Details</a> · <a href="/">Home</a></p>
    </div>
  );
}
