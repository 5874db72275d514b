// Shared pieces: form fields, buttons, messages, amounts, status badges, transaction rows.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Transaction } from './live';
import { formatRupees } from './money';
import { formatDateTime, kindWords, statusWords } from './words';

export function Page(props: { title: string; children: ComponentChildren; back?: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · ZenPAY`;
    // Moves focus to the new screen's heading, so keyboard and screen reader users know where they are.
    heading.current?.focus({ preventScroll: true });
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      {props.back && <a class="back" href={props.back}>← Back</a>}
      <h1 id="page-title" tabIndex={-1} ref={heading}>{props.title}</h1>
      {props.children}
    </section>
  );
}

type InputProps = JSX.InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string; name: string };

export function Field({ label, hint, name, ...input }: InputProps) {
  const hintId = hint ? `${name}-hint` : undefined;
  return (
    <div class="field">
      <label for={name}>{label}</label>
      <input id={name} name={name} aria-describedby={hintId} {...input} />
      {hint && <p class="hint" id={hintId}>{hint}</p>}
    </div>
  );
}

export function Select(props: { label: string; name: string; value: string; options: Array<[string, string]>; onChange: (value: string) => void }) {
  return (
    <div class="field">
      <label for={props.name}>{props.label}</label>
      <select id={props.name} name={props.name} value={props.value} onChange={(event) => props.onChange((event.target as HTMLSelectElement).value)}>
        {props.options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
      </select>
    </div>
  );
}

export function ErrorText(props: { message: string | null }) {
  return <div class="error" role="alert" aria-live="assertive">{props.message ?? ''}</div>;
}

export function Button(props: JSX.ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; variant?: 'primary' | 'secondary' | 'danger' }) {
  const { busy, variant = 'primary', children, ...rest } = props;
  return (
    <button class={`button ${variant}`} aria-busy={busy ? 'true' : undefined} disabled={busy || props.disabled} {...rest}>
      {busy ? 'Please wait…' : children}
    </button>
  );
}

export const Amount = (props: { paise: string | bigint; class?: string }) => <span class={`amount ${props.class ?? ''}`}>{formatRupees(props.paise)}</span>;

export function StatusBadge(props: { status: string }) {
  return <span class={`badge status-${props.status.toLowerCase()}`}>{statusWords[props.status] ?? props.status}</span>;
}

function describeParty(transaction: Transaction): string {
  if (transaction.kind === 'ON_RAMP') return `From ${transaction.counterparty ?? 'your bank'}`;
  if (transaction.kind === 'OFF_RAMP') return `To ${transaction.counterparty ?? 'your bank'}`;
  return `${transaction.direction === 'DEBIT' ? 'To' : 'From'} ${transaction.counterparty ?? 'someone'}`;
}

export function TransactionRow(props: { transaction: Transaction }) {
  const t = props.transaction;
  const sign = t.direction === 'DEBIT' ? '−' : '+';
  return (
    <li class="transaction">
      <a href={`/activity/${t.id}`}>
        <span class="who">
          <span class="party">{describeParty(t)}</span>
          <span class="meta">{kindWords[t.kind]} · {formatDateTime(t.createdAt)}{t.note ? ` · ${t.note}` : ''}</span>
        </span>
        <span class="what">
          <span class={`amount ${t.direction === 'DEBIT' ? 'debit' : 'credit'}`}>{sign}{formatRupees(t.amount)}</span>
          <StatusBadge status={t.status} />
        </span>
      </a>
    </li>
  );
}

export const newIdempotencyKey = (): string => crypto.randomUUID();
