// Send money: recipient by phone (their masked name shown before paying), amount in rupees sent as paise
// (string arithmetic), a note, a review step, and the confirmation code when the API asks for one.
import { useMemo, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { TransactionFields } from '../fragments';
import { graphql, readFragment } from '../graphql';
import { applyTransaction, readStarted, type Transaction } from '../live';
import { formatRupees, parseRupees } from '../money';
import { Button, ErrorText, Field, newIdempotencyKey, Page } from '../ui';
import { toE164 } from './auth';
import { ConfirmStep } from './confirm';
import { Outcome } from './outcome';

const Payee = graphql(`query Payee($phone: String!) { payee(phone: $phone) { phone maskedName } }`);
const SendMoney = graphql(`mutation SendMoney($input: SendMoneyInput!) { sendMoney(input: $input) { ...TransactionFields } }`, [TransactionFields]);

type Step = { name: 'form' } | { name: 'review'; payee: { phone: string; maskedName: string }; paise: string } | { name: 'confirm' | 'done'; transaction: Transaction };

export function SendScreen() {
  const [step, setStep] = useState<Step>({ name: 'form' });
  const [phone, setPhone] = useState('');
  const [amount, setAmount] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per reviewed payment: pressing Pay again after a lost answer cannot pay twice.
  const idempotencyKey = useMemo(newIdempotencyKey, [step.name === 'review' ? step : null]);

  const review = async (event: Event) => {
    event.preventDefault();
    const parsed = parseRupees(amount);
    if (!parsed.ok) return setError(parsed.message);
    setBusy(true);
    const result = await client.query(Payee, { phone: toE164(phone) }).toPromise();
    setBusy(false);
    if (result.error) return setError(describeError(result.error));
    if (!result.data?.payee) return setError('No ZenPAY user has this phone number. Check it, or ask them to sign up.');
    setError(null);
    setStep({ name: 'review', payee: result.data.payee, paise: parsed.paise });
  };
  const pay = async () => {
    if (step.name !== 'review') return;
    setBusy(true);
    const since = readStarted();
    const result = await client.mutation(SendMoney, { input: { toPhone: step.payee.phone, amount: step.paise, note: note.trim() || null, idempotencyKey } }).toPromise();
    setBusy(false);
    if (!result.data) return setError(describeError(result.error));
    const transaction = readFragment(TransactionFields, result.data.sendMoney);
    applyTransaction(transaction, undefined, since);
    setError(null);
    setStep({ name: transaction.status === 'AWAITING_CONFIRMATION' ? 'confirm' : 'done', transaction });
  };

  if (step.name === 'confirm') return <Page title="Confirm payment"><ConfirmStep transaction={step.transaction} onDone={(transaction) => setStep({ name: 'done', transaction })} /></Page>;
  if (step.name === 'done') return <Page title="Payment"><Outcome transaction={step.transaction} doneText="Sent." /></Page>;
  if (step.name === 'review') {
    return (
      <Page title="Review payment">
        <dl class="card review">
          <dt>To</dt><dd data-testid="payee-name">{step.payee.maskedName} <span class="muted">({step.payee.phone})</span></dd>
          <dt>Amount</dt><dd class="big">{formatRupees(step.paise)}</dd>
          {note.trim() && <><dt>Note</dt><dd>{note.trim()}</dd></>}
        </dl>
        <ErrorText message={error} />
        <div class="row">
          <Button variant="secondary" type="button" onClick={() => setStep({ name: 'form' })}>Edit</Button>
          <Button type="button" busy={busy} onClick={pay}>Pay {formatRupees(step.paise)}</Button>
        </div>
      </Page>
    );
  }
  return (
    <Page title="Send money" back="/">
      <form onSubmit={review} class="stack" noValidate>
        <Field label="Recipient's phone number" name="to-phone" type="tel" inputMode="tel" autoComplete="off" required value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
        <Field label="Amount (₹)" name="amount" inputMode="decimal" autoComplete="off" placeholder="0.00" required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        <Field label="Note (optional)" name="note" maxLength={140} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        <ErrorText message={error} />
        <Button type="submit" busy={busy}>Continue</Button>
      </form>
    </Page>
  );
}
