// Settings: live sessions (revoke), two-factor enrolment with an authenticator app, sign out.
import { useEffect, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { graphql, type ResultOf } from '../graphql';
import { stopLive } from '../live';
import { navigate } from '../router';
import { session, signedOut } from '../session';
import { useStore } from '../store';
import { Button, ErrorText, Field, Page } from '../ui';
import { formatDateTime } from '../words';

const Settings = graphql(`query Settings { viewer { twoFactorEnabled } sessions { id createdAt lastUsedAt userAgent clientAddress current } }`);
const Revoke = graphql(`mutation Revoke($id: ID!) { revokeSession(id: $id) }`);
const SignOut = graphql(`mutation SignOut { signOut }`);
const StartTwoFactor = graphql(`mutation StartTwoFactor { startTwoFactorEnrollment { otpauthUri secret } }`);
const ConfirmTwoFactor = graphql(`mutation ConfirmTwoFactor($code: String!) { confirmTwoFactorEnrollment(code: $code) { recoveryCodes } }`);
const DisableTwoFactor = graphql(`mutation DisableTwoFactor($code: String!) { disableTwoFactor(code: $code) }`);

type SettingsData = ResultOf<typeof Settings>;

export async function signOut(): Promise<void> {
  await client.mutation(SignOut, {}).toPromise();
  stopLive();
  signedOut('You signed out.');
  navigate('/signin', { replace: true });
}

function device(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(userAgent)?.[1]?.replace('Edg', 'Edge') ?? 'App or script';
  const system = /(Android|iPhone|iPad|Windows|Mac OS X|Linux)/.exec(userAgent)?.[1]?.replace('Mac OS X', 'macOS') ?? '';
  return system ? `${browser} on ${system}` : browser;
}

export function SettingsScreen() {
  const user = useStore(session)?.user;
  const [data, setData] = useState<SettingsData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [enrolment, setEnrolment] = useState<{ otpauthUri: string; secret: string } | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const load = async () => {
    const result = await client.query(Settings, {}).toPromise();
    if (result.data) setData(result.data);
    else setError(describeError(result.error));
  };
  useEffect(() => void load(), []);

  const run = async <T,>(work: () => Promise<{ data?: T | undefined; error?: Parameters<typeof describeError>[0] }>, then: (data: T) => void) => {
    setBusy(true);
    const result = await work();
    setBusy(false);
    if (result.data === undefined || result.data === null) return setError(describeError(result.error ?? null));
    setError(null);
    then(result.data);
  };

  return (
    <Page title="Settings">
      <div class="card">
        <p><strong>{user?.name}</strong><br /><span class="muted">{user?.phone}</span></p>
        <div class="row">
          <Button variant="secondary" type="button" onClick={() => void signOut()}>Sign out</Button>
        </div>
      </div>
      <ErrorText message={error} />
      <h2>Two-factor authentication</h2>
      <div class="card stack">
        {data?.viewer?.twoFactorEnabled ? (
          <>
            <p>On: payments that need a confirmation ask for your authenticator app's code.</p>
            <Field label="Code (or a recovery code) to turn it off" name="disable-code" autoComplete="one-time-code" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
            <Button variant="danger" type="button" busy={busy} onClick={() => void run(() => client.mutation(DisableTwoFactor, { code: code.trim() }).toPromise(), () => { setCode(''); void load(); })}>Turn off</Button>
          </>
        ) : recoveryCodes ? (
          <>
            <p>Two-factor is on. Keep these recovery codes somewhere safe: each works once, and they are not shown again.</p>
            <ul class="codes">{recoveryCodes.map((value) => <li key={value} class="mono">{value}</li>)}</ul>
            <Button type="button" onClick={() => { setRecoveryCodes(null); void load(); }}>I saved them</Button>
          </>
        ) : enrolment ? (
          <>
            <p>Add this key to your authenticator app (Google Authenticator, Authy, 1Password…), then enter the code it shows.</p>
            <p class="mono secret" data-testid="totp-secret">{enrolment.secret.replace(/(.{4})/g, '$1 ').trim()}</p>
            <p class="hint">Or open this link on the phone with the app: <a href={enrolment.otpauthUri}>add to authenticator</a></p>
            <Field label="Code from the app" name="totp-code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={code} onInput={(e) => setCode(e.currentTarget.value)} />
            <Button type="button" busy={busy} onClick={() => void run(() => client.mutation(ConfirmTwoFactor, { code: code.trim() }).toPromise(), (done) => { setCode(''); setEnrolment(null); setRecoveryCodes(done.confirmTwoFactorEnrollment.recoveryCodes); })}>Turn on</Button>
          </>
        ) : (
          <>
            <p>Off. Turn it on to confirm large and new payments with an authenticator app instead of an SMS.</p>
            <Button type="button" busy={busy} onClick={() => void run(() => client.mutation(StartTwoFactor, {}).toPromise(), (started) => setEnrolment(started.startTwoFactorEnrollment))}>Set up an authenticator app</Button>
          </>
        )}
      </div>
      <h2>Where you are signed in</h2>
      <ul class="sessions" data-testid="sessions">
        {(data?.sessions ?? []).map((item) => (
          <li key={item.id} class="card">
            <span>
              <strong>{device(item.userAgent)}</strong>{item.current && <span class="badge status-completed">This device</span>}<br />
              <span class="muted">Signed in {formatDateTime(item.createdAt)}{item.lastUsedAt ? `, last used ${formatDateTime(item.lastUsedAt)}` : ''}{item.clientAddress ? ` from ${item.clientAddress}` : ''}</span>
            </span>
            {!item.current && (
              <Button variant="secondary" type="button" aria-label={`Sign out ${device(item.userAgent)} signed in ${formatDateTime(item.createdAt)}`} onClick={() => void run(() => client.mutation(Revoke, { id: item.id }).toPromise(), () => void load())}>Sign out</Button>
            )}
          </li>
        ))}
      </ul>
    </Page>
  );
}
