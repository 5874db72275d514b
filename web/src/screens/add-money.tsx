// Add money: to the bank's netbanking page (bankRedirectUrl), and back: the bank sends the browser to
// /add-money/return?transaction=…&payment=…&status=…, where the payment's status is followed live. The
// bank's status in the URL is only what the bank page said; the balance changes when the API says so.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { TransactionFields } from '../fragments';
import { graphql, readFragment } from '../graphql';
import { applyTransaction, live, readStarted, type Transaction } from '../live';
import { parseRupees } from '../money';
import { useLocation } from '../router';
import { useStore } from '../store';
import { Button, ErrorText, Field, newIdempotencyKey, Page, Select } from '../ui';
import { Outcome } from './outcome';

export const banks: Array<[string, string]> = [
  ['HDFC', 'HDFC Bank'], ['ICICI', 'ICICI Bank'], ['SBI', 'State Bank of India'], ['AXIS', 'Axis Bank'],
  ['KOTAK', 'Kotak Mahindra Bank'], ['PNB', 'Punjab National Bank'], ['BOB', 'Bank of Baroda'], ['YES', 'Yes Bank'],
];

const AddMoney = graphql(`mutation AddMoney($input: AddMoneyInput!) { addMoney(input: $input) { ...TransactionFields } }`, [TransactionFields]);
const OneTransaction = graphql(`query OneTransaction($id: ID!) { transaction(id: $id) { ...TransactionFields } }`, [TransactionFields]);
const OneTransactionUpdated = graphql(
  `subscription OneTransactionUpdated($id: ID!) { transactionUpdated(id: $id) { eventCursor occurredAt transaction { ...TransactionFields } } }`,
  [TransactionFields],
);

export function AddMoneyScreen() {
  const [amount, setAmount] = useState('');
  const [bank, setBank] = useState('HDFC');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [ended, setEnded] = useState<Transaction | null>(null);
  const idempotencyKey = useMemo(newIdempotencyKey, [amount, bank]);
  const submit = async (event: Event) => {
    event.preventDefault();
    const parsed = parseRupees(amount);
    if (!parsed.ok) return setError(parsed.message);
    setBusy(true);
    const since = readStarted();
    const result = await client.mutation(AddMoney, { input: { amount: parsed.paise, bank, idempotencyKey } }).toPromise();
    if (!result.data) {
      setBusy(false);
      return setError(describeError(result.error));
    }
    const transaction = readFragment(TransactionFields, result.data.addMoney);
    applyTransaction(transaction, undefined, since);
    if (transaction.bankRedirectUrl) {
      // To the bank's page in this tab; it sends the browser back to /add-money/return.
      window.location.assign(transaction.bankRedirectUrl);
      return;
    }
    setBusy(false);
    setEnded(transaction);
  };
  if (ended) return <Page title="Add money"><Outcome transaction={ended} doneText="Added to your wallet." /></Page>;
  return (
    <Page title="Add money" back="/">
      <form onSubmit={submit} class="stack" noValidate>
        <Field label="Amount (₹)" name="amount" inputMode="decimal" autoComplete="off" placeholder="0.00" required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        <Select label="From bank" name="bank" value={bank} options={banks} onChange={setBank} />
        <p class="hint">You will approve the payment on your bank's page, then come back here.</p>
        <ErrorText message={error} />
        <Button type="submit" busy={busy}>Continue to the bank</Button>
      </form>
    </Page>
  );
}

/** Follows one transaction: reads it, then its transactionUpdated events until it ends. */
export function useTransaction(id: string | null): { transaction: Transaction | null; error: string | null } {
  const state = useStore(live);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!id) return;
    let active = true;
    const since = readStarted();
    void client.query(OneTransaction, { id }).toPromise().then((result) => {
      if (!active) return;
      if (result.data?.transaction) applyTransaction(readFragment(TransactionFields, result.data.transaction), undefined, since);
      else setError(result.error ? describeError(result.error) : 'We could not find this payment.');
    });
    const subscription = client.subscription(OneTransactionUpdated, { id }).subscribe((result) => {
      const event = result.data?.transactionUpdated;
      if (event) applyTransaction(readFragment(TransactionFields, event.transaction), { at: event.occurredAt });
    });
    return () => {
      active = false;
      subscription.unsubscribe();
    };
  }, [id]);
  return { transaction: (id && state.byId[id]) || null, error };
}

export function AddMoneyReturnScreen() {
  const { search } = useLocation();
  const params = new URLSearchParams(search);
  const id = params.get('transaction');
  const bankSaid = params.get('status');
  const { transaction, error } = useTransaction(id);
  return (
    <Page title="Back from your bank">
      {bankSaid && transaction?.status !== 'COMPLETED' && (
        <p class="notice">{bankSaid === 'succeeded' ? 'Your bank says you approved the payment. We are waiting for its confirmation.' : 'Your bank says the payment did not go through.'}</p>
      )}
      <ErrorText message={error} />
      {transaction ? <Outcome transaction={transaction} doneText="Added to your wallet." /> : !error && <p class="muted">Loading…</p>}
    </Page>
  );
}
