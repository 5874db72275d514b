// The inbox page a person reads: a phone's messages, newest first. Every value is escaped; the page
// loads nothing and runs no script.
import type { Message } from './store';

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
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
.message { border: 1px solid #ccc; border-radius: 12px; padding: 0.75rem 1rem; margin: 0.75rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
time { color: #666; font-size: 0.85rem; display: block; margin-bottom: 0.25rem; }
</style>
</head>
<body>
${body}
<p><small>ZenPAY SMS simulator: no real message was sent.</small></p>
</body>
</html>
`;
}

export function inboxPage(phone: string, messages: readonly Message[]): string {
  const items = messages.length
    ? messages.map((message) => `<div class="message"><time>${escapeHtml(message.sentAt)}</time>${escapeHtml(message.body)}</div>`).join('\n')
    : '<p>No messages yet.</p>';
  return layout(`Inbox of ${phone}`, `<h1>Inbox of ${escapeHtml(phone)}</h1>\n${items}`);
}

export function errorPage(message: string): string {
  return layout('SMS simulator', `<p>${escapeHtml(message)}</p>`);
}
