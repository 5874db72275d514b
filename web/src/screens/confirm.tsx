// The step-up confirmation of a payment in AWAITING_CONFIRMATION: the code from the SMS or the
// authenticator app, checked by confirmTransaction.
import { useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { TransactionFields } from '../fragments';
import { graphql, readFragment } from '../graphql';
import { applyTransaction, readStarted, type Transaction } from '../live';
import { Button, ErrorText, Field } from '../ui';
import { formatTime } from '../words';

const Confirm = graphql(`mutation Confirm($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { ...TransactionFields } }`, [TransactionFields]);

export function ConfirmStep(props: { transaction: Transaction; onDone: (transaction: Transaction) => void }) {
  const challenge = props.transaction.confirmation;
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const since = readStarted();
    const result = await client.mutation(Confirm, { id: props.transaction.id, code: code.trim() }).toPromise();
    setBusy(false);
    if (!result.data) return setError(describeError(result.error));
    const transaction = readFragment(TransactionFields, result.data.confirmTransaction);
    applyTransaction(transaction, undefined, since);
    props.onDone(transaction);
  };
  return (
    <form onSubmit={submit} class="stack card" noValidate>
      <h2>Confirm this payment</h2>
      <p>
        {challenge?.method === 'TOTP' ? 'Enter the 6-digit code from your authenticator app.' : 'We sent a 6-digit code to your phone by SMS. Enter it to confirm.'}
        {challenge && ` It works until ${formatTime(challenge.expiresAt)}.`}
      </p>
      <Field label="Confirmation code" name="confirmation-code" inputMode="numeric" autoComplete="one-time-code" maxLength={16} required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      <ErrorText message={error} />
      <Button type="submit" busy={busy}>Confirm payment</Button>
    </form>
  );
}
