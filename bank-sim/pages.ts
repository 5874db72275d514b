// The HTML a person sees: the netbanking page with Approve and Decline, and the small pages after a decision.
// Every value is escaped; the pages load nothing and run no script.
import { formatRupees } from '../common/money';
import type { Payment } from './model';

export const merchantName = 'ZenPAY';

/** Forbids scripts and any loaded resource; inline styles only. */
export const pageContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1a1a1a; }
.card { border: 1px solid #ccc; border-radius: 8px; padding: 1.5rem; }
.amount { font-size: 2rem; font-weight: 600; margin: 0.5rem 0 1rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0.25rem 1rem; }
dt { color: #666; } dd { margin: 0; overflow-wrap: anywhere; }
form { display: inline-block; margin-right: 0.5rem; }
button { font-size: 1rem; padding: 0.5rem 1.25rem; border-radius: 6px; border: 1px solid #888; cursor: pointer; }
.approve { background: #1b7f3b; color: white; border-color: #1b7f3b; }
</style>
</head>
<body>
<div class="card">
${body}
</div>
<p><small>ZenPAY bank simulator: not a real bank.</small></p>
</body>
</html>
`;
}

export function paymentPage(payment: Payment): string {
  const id = encodeURIComponent(payment.id);
  const decision =
    payment.status === 'pending'
      ? `<form method="post" action="/v1/payments/${id}/approve"><button class="approve" type="submit" name="decision" value="approve">Approve</button></form>
<form method="post" action="/v1/payments/${id}/decline"><button class="decline" type="submit" name="decision" value="decline">Decline</button></form>`
      : payment.status === 'canceled'
        ? '<p>This payment was <strong>canceled</strong> by the merchant; it can no longer be approved.</p>'
        : `<p>This payment has already <strong>${escapeHtml(payment.status)}</strong>.</p>`;
  return layout(
    `${payment.bank} netbanking: pay ${merchantName}`,
    `<h1>${escapeHtml(payment.bank)} NetBanking</h1>
<p>Pay <strong>${escapeHtml(merchantName)}</strong></p>
<p class="amount">&#8377;${escapeHtml(formatRupees(payment.amountMinor))}</p>
<dl>
<dt>Merchant</dt><dd>${escapeHtml(merchantName)}</dd>
<dt>Bank</dt><dd>${escapeHtml(payment.bank)}</dd>
<dt>Reference</dt><dd>${escapeHtml(payment.reference)}</dd>
<dt>Amount</dt><dd>INR ${escapeHtml(formatRupees(payment.amountMinor))}</dd>
</dl>
${decision}`,
  );
}

export function decisionPage(payment: Payment): string {
  const verb = payment.status === 'succeeded' ? 'approved' : 'declined';
  return layout(
    `Payment ${verb}`,
    `<h1>Payment ${verb}</h1>
<p>&#8377;${escapeHtml(formatRupees(payment.amountMinor))} to ${escapeHtml(merchantName)}, reference ${escapeHtml(payment.reference)}.</p>
<p>You may close this page.</p>`,
  );
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}

/**
 * Where the browser goes back to after a decision: the merchant's returnUrl with `payment` and `status` appended, its
 * own query and fragment kept as they are (not re-encoded), so the merchant's page learns which payment came back.
 */
export function returnUrlWithOutcome(returnUrl: string, payment: Payment): string {
  const hashAt = returnUrl.indexOf('#');
  const base = hashAt === -1 ? returnUrl : returnUrl.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : returnUrl.slice(hashAt);
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  const outcome = `payment=${encodeURIComponent(payment.id)}&status=${encodeURIComponent(payment.status)}`;
  return `${base}${separator}${outcome}${fragment}`;
}
