// Withdraw to a bank account: held at once, gone when the bank pays it out.
import { useMemo, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { TransactionFields } from '../fragments';
import { graphql, readFragment } from '../graphql';
import { applyTransaction, readStarted, type Transaction } from '../live';
import { parseRupees } from '../money';
import { Button, ErrorText, Field, newIdempotencyKey, Page, Select } from '../ui';
import { banks } from './add-money';
import { ConfirmStep } from './confirm';
import { Outcome } from './outcome';

const Withdraw = graphql(`mutation Withdraw($input: WithdrawInput!) { withdraw(input: $input) { ...TransactionFields } }`, [TransactionFields]);

export function WithdrawScreen() {
  const [amount, setAmount] = useState('');
  const [bank, setBank] = useState('ICICI');
  const [account, setAccount] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [transaction, setTransaction] = useState<Transaction | null>(null);
  const idempotencyKey = useMemo(newIdempotencyKey, [amount, bank, account]);
  const submit = async (event: Event) => {
    event.preventDefault();
    const parsed = parseRupees(amount);
    if (!parsed.ok) return setError(parsed.message);
    if (!/^[A-Za-z0-9]{6,34}$/.test(account.replace(/\s/g, ''))) return setError('The account number is 6 to 34 letters and digits.');
    setBusy(true);
    const since = readStarted();
    const result = await client.mutation(Withdraw, { input: { amount: parsed.paise, bank, bankAccount: account.replace(/\s/g, ''), idempotencyKey } }).toPromise();
    setBusy(false);
    if (!result.data) return setError(describeError(result.error));
    const answer = readFragment(TransactionFields, result.data.withdraw);
    applyTransaction(answer, undefined, since);
    setTransaction(answer);
  };
  if (transaction?.status === 'AWAITING_CONFIRMATION') {
    return <Page title="Confirm withdrawal"><ConfirmStep transaction={transaction} onDone={setTransaction} /></Page>;
  }
  if (transaction) return <Page title="Withdrawal"><Outcome transaction={transaction} doneText="Paid out to your bank account." /></Page>;
  return (
    <Page title="Withdraw" back="/">
      <form onSubmit={submit} class="stack" noValidate>
        <Field label="Amount (₹)" name="amount" inputMode="decimal" autoComplete="off" placeholder="0.00" required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        <Select label="To bank" name="bank" value={bank} options={banks} onChange={setBank} />
        <Field label="Account number" name="bank-account" inputMode="text" autoComplete="off" required value={account} onInput={(e) => setAccount(e.currentTarget.value)} />
        <ErrorText message={error} />
        <Button type="submit" busy={busy}>Withdraw</Button>
      </form>
    </Page>
  );
}
