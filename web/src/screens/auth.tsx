// Sign up (phone, code from the SMS, name, password) and sign in.
import { useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { graphql } from '../graphql';
import { navigate } from '../router';
import { endedBecause, signedIn } from '../session';
import { useStore } from '../store';
import { Button, ErrorText, Field, Page } from '../ui';

const SignIn = graphql(`mutation SignIn($input: SignInInput!) { signIn(input: $input) { token user { id name phone } } }`);
const RequestCode = graphql(`mutation RequestCode($input: PhoneVerificationInput!) { requestPhoneVerification(input: $input) { id expiresAt } }`);
const SignUp = graphql(`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { token user { id name phone } } }`);

/** "98123 45001" or "+91 98123-45001" -> "+919812345001"; the API checks the numbering plan. */
export function toE164(input: string): string {
  const digits = input.replace(/[\s()-]/g, '');
  if (digits.startsWith('+')) return digits;
  if (/^0?\d{10}$/.test(digits)) return `+91${digits.replace(/^0/, '')}`;
  return digits;
}

const afterSignIn = () => {
  const next = new URLSearchParams(window.location.search).get('next');
  navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
};

export function SignInScreen() {
  const reason = useStore(endedBecause);
  const [phone, setPhone] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const result = await client.mutation(SignIn, { input: { phone: toE164(phone), password } }).toPromise();
    setBusy(false);
    if (!result.data) return setError(describeError(result.error, 'sign-in'));
    signedIn(result.data.signIn);
    afterSignIn();
  };
  return (
    <Page title="Sign in">
      {reason && <p class="notice" role="status">{reason}</p>}
      <form onSubmit={submit} class="stack" noValidate>
        <Field label="Phone number" name="phone" type="tel" inputMode="tel" autoComplete="tel" required value={phone} onInput={(e) => setPhone(e.currentTarget.value)} hint="Your mobile number, e.g. 98123 45001" />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <ErrorText message={error} />
        <Button type="submit" busy={busy}>Sign in</Button>
      </form>
      <p>New to ZenPAY? <a href="/signup">Create an account</a></p>
    </Page>
  );
}

export function SignUpScreen() {
  const [step, setStep] = useState<'phone' | 'details'>('phone');
  const [phone, setPhone] = useState('');
  const [verificationId, setVerificationId] = useState('');
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const requestCode = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const result = await client.mutation(RequestCode, { input: { phone: toE164(phone) } }).toPromise();
    setBusy(false);
    if (!result.data) return setError(describeError(result.error));
    setError(null);
    setVerificationId(result.data.requestPhoneVerification.id);
    setStep('details');
  };
  const signUp = async (event: Event) => {
    event.preventDefault();
    if (password.length < 8) return setError('Choose a password of at least 8 characters.');
    setBusy(true);
    const result = await client.mutation(SignUp, { input: { phone: toE164(phone), name: name.trim(), password, verificationId, code: code.trim() } }).toPromise();
    setBusy(false);
    if (!result.data) return setError(describeError(result.error));
    signedIn(result.data.signUp);
    afterSignIn();
  };

  return (
    <Page title="Create your account">
      {step === 'phone' ? (
        <form onSubmit={requestCode} class="stack" noValidate>
          <Field label="Phone number" name="phone" type="tel" inputMode="tel" autoComplete="tel" required value={phone} onInput={(e) => setPhone(e.currentTarget.value)} hint="We send a 6-digit code to this number by SMS." />
          <ErrorText message={error} />
          <Button type="submit" busy={busy}>Send code</Button>
        </form>
      ) : (
        <form onSubmit={signUp} class="stack" noValidate>
          <p class="notice" role="status">We sent a code to {toE164(phone)}. <button type="button" class="link" onClick={() => setStep('phone')}>Change number</button></p>
          <Field label="Code from the SMS" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]*" maxLength={6} required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          <Field label="Your name" name="name" autoComplete="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <Field label="Password" name="new-password" type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} hint="8 to 128 characters." />
          <ErrorText message={error} />
          <Button type="submit" busy={busy}>Create account</Button>
        </form>
      )}
      <p>Already have an account? <a href="/signin">Sign in</a></p>
    </Page>
  );
}
