// Test helpers for the bank simulator's HTTP API, control endpoint and netbanking page.

export async function bankCall(baseUrl: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function controlBank(baseUrl: string, settings: Record<string, unknown>): Promise<void> {
  const { status, body } = await bankCall(baseUrl, 'POST', '/v1/_control', settings);
  if (status !== 200) throw new Error(`control failed: ${status} ${JSON.stringify(body)}`);
}

export async function resetBank(baseUrl: string): Promise<void> {
  const { status } = await bankCall(baseUrl, 'POST', '/v1/_control/reset');
  if (status !== 200) throw new Error(`control reset failed: ${status}`);
}

/** Opens the netbanking page and submits its Approve (or Decline) form, as a person's browser would. */
export async function decideOnNetbankingPage(redirectUrl: string, choice: 'approve' | 'decline'): Promise<number> {
  const page = await fetch(redirectUrl);
  const html = await page.text();
  const forms = [...html.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/gi)].map((match) => match[1]!);
  const action = forms.find((candidate) => candidate.endsWith(`/${choice}`));
  if (!action) throw new Error(`no ${choice} form on the netbanking page:\n${html}`);
  const response = await fetch(new URL(action.replace(/&amp;/g, '&'), redirectUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    // A browser sends the pressed button's name and value.
    body: `decision=${choice}`,
    redirect: 'manual',
  });
  return response.status;
}
