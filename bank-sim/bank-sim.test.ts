// Tests the bank simulator as the engine meets it: the real process (a child on port 0, found through its log
// line), real HTTP from here, and a real webhook receiver here that verifies every signature with the
// standardwebhooks library. A second process with a state file is SIGKILLed and started again.
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { developmentWebhookSecret } from './config';
import {
  callJson,
  sleep,
  startSimulatorProcess,
  startWebhookReceiver,
  type ReceivedWebhook,
  type SimulatorProcess,
  type WebhookReceiver,
} from './testing';

const rotatedWebhookSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const rfc3339Pattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function uniqueReference(label: string): string {
  return `${label}-${randomUUID()}`;
}

function paymentRequest(reference: string, overrides: Record<string, unknown> = {}) {
  return { reference, amount: '105000', currency: 'INR', bank: 'HDFC', ...overrides };
}

function payoutRequest(reference: string, overrides: Record<string, unknown> = {}) {
  return { reference, amount: '25000', currency: 'INR', bank: 'SBI', bankAccount: '50100012345678', ...overrides };
}

async function postForm(url: string, fields: Record<string, string>) {
  // URLSearchParams makes fetch send application/x-www-form-urlencoded, as a browser's form post does.
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

let receiver: WebhookReceiver;
let simulator: SimulatorProcess;
const api = (method: string, path: string, body?: unknown) => callJson(simulator.url, method, path, body);

async function setControl(settings: Record<string, unknown>): Promise<void> {
  const answer = await api('POST', '/v1/_control', settings);
  expect(answer.status).toBe(200);
}

async function createPayment(reference: string, overrides: Record<string, unknown> = {}) {
  const answer = await api('POST', '/v1/payments', paymentRequest(reference, overrides));
  expect(answer.status).toBe(201);
  return answer.body as { id: string; redirectUrl: string };
}

async function deliveriesFor(reference: string) {
  const answer = await api('GET', `/v1/_deliveries?reference=${encodeURIComponent(reference)}`);
  expect(answer.status).toBe(200);
  return answer.body.deliveries as { webhookId: string; state: string; attempts: number; lastStatusCode: number | null }[];
}

/** A payment approved by a script: succeeded, with its decidedAt. */
async function succeededPayment(reference: string, overrides: Record<string, unknown> = {}) {
  const payment = await createPayment(reference, overrides);
  const approved = await api('POST', `/v1/payments/${payment.id}/approve`);
  expect(approved.status).toBe(200);
  return approved.body as { id: string; decidedAt: string };
}

async function createRefund(payment: string, reference: string, amount: string) {
  const answer = await api('POST', '/v1/refunds', { payment, amount, reference });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; status: string };
}

async function waitForStatus(path: string, status: string) {
  await waitUntil(async () => (await api('GET', path)).body.status === status);
  return (await api('GET', path)).body;
}

beforeAll(async () => {
  receiver = await startWebhookReceiver([developmentWebhookSecret, rotatedWebhookSecret]);
  simulator = await startSimulatorProcess({
    BANK_SIM_WEBHOOK_URL: receiver.url,
    BANK_SIM_WEBHOOK_SECRETS: `${developmentWebhookSecret},${rotatedWebhookSecret}`,
    BANK_SIM_RETRY_SCHEDULE_MS: '0,50,100,200',
    BANK_SIM_SEED: '42',
    LOG_LEVEL: 'warn',
  });
});

beforeEach(async () => {
  receiver.answer = () => 204;
  expect((await api('POST', '/v1/_control/reset')).status).toBe(200);
});

afterEach(() => {
  expect(receiver.rejected).toEqual([]);
});

afterAll(async () => {
  const exit = await simulator?.stop();
  await receiver?.close();
  expect(exit).toEqual({ code: 0, signal: null });
});

describe('payments', () => {
  test('payments | new reference | answers 201 pending with a redirectUrl to the netbanking page', async () => {
    const reference = uniqueReference('new');
    const answer = await api('POST', '/v1/payments', paymentRequest(reference));
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ reference, status: 'pending', amount: '105000', currency: 'INR', bank: 'HDFC' });
    expect(answer.body.id).toMatch(/^pay_/);
    expect(answer.body.redirectUrl).toBe(`${simulator.url}/pay/${answer.body.id}`);
  });

  test('payments | same reference twice | returns the existing payment with 200', async () => {
    const reference = uniqueReference('twice');
    const first = await api('POST', '/v1/payments', paymentRequest(reference));
    const second = await api('POST', '/v1/payments', paymentRequest(reference));
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
  });

  test('payments | same reference with another amount or bank | answers 409 REFERENCE_CONFLICT', async () => {
    const reference = uniqueReference('conflict');
    await createPayment(reference);
    for (const overrides of [{ amount: '105001' }, { bank: 'ICICI' }]) {
      const answer = await api('POST', '/v1/payments', paymentRequest(reference, overrides));
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('REFERENCE_CONFLICT');
    }
  });

  test.each([
    ['an unknown bank', 'UNKNOWN_BANK', { bank: 'NOPE' }],
    ['an amount with a decimal point', 'BAD_AMOUNT', { amount: '10.50' }],
    ['an amount as a JSON number', 'BAD_AMOUNT', { amount: 1050 }],
    ['a zero amount', 'BAD_AMOUNT', { amount: '0' }],
    ['a negative amount', 'BAD_AMOUNT', { amount: '-5' }],
    ['a currency other than INR', 'UNSUPPORTED_CURRENCY', { currency: 'USD' }],
    ['an empty reference', 'BAD_REQUEST', { reference: '' }],
    ['a reference of 256 characters', 'BAD_REQUEST', { reference: 'r'.repeat(256) }],
    ['no amount', 'BAD_REQUEST', { amount: undefined }],
    ['a returnUrl that is not http', 'BAD_REQUEST', { returnUrl: 'javascript:alert(1)' }],
  ])('payments | body with %s | answers 400 %s', async (_label, code, overrides) => {
    const answer = await api('POST', '/v1/payments', paymentRequest(uniqueReference('bad'), overrides));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toEqual({ code, message: expect.any(String) });
  });

  test.each([
    ['malformed JSON', 400, 'BAD_REQUEST', 'application/json', '{"reference":'],
    ['a JSON array', 400, 'BAD_REQUEST', 'application/json', '[]'],
    ['plain text', 400, 'BAD_REQUEST', 'text/plain', 'pay me'],
    ['more than 64 kB', 413, 'PAYLOAD_TOO_LARGE', 'application/json', JSON.stringify({ reference: 'x'.repeat(70_000) })],
  ])('payments | raw body of %s | answers %s %s', async (_label, status, code, contentType, body) => {
    const response = await fetch(`${simulator.url}/v1/payments`, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  test('payments | unknown id or reference | answers 404 NOT_FOUND', async () => {
    for (const path of ['/v1/payments/pay_unknown', '/v1/payments?reference=unknown', '/v1/payouts/pout_unknown', '/v1/payouts?reference=unknown']) {
      const answer = await api('GET', path);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
  });

  test('payments | lookup by id and by reference | both answer the payment', async () => {
    const reference = uniqueReference('lookup');
    const payment = await createPayment(reference);
    const byId = await api('GET', `/v1/payments/${payment.id}`);
    const byReference = await api('GET', `/v1/payments?reference=${encodeURIComponent(reference)}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ id: payment.id, reference, amount: '105000', currency: 'INR', bank: 'HDFC', status: 'pending' });
    expect(byReference.body).toEqual(byId.body);
  });
});

describe('netbanking page and decisions', () => {
  test('netbanking page | pending payment | shows rupees, merchant, bank, reference and Approve and Decline forms', async () => {
    const reference = uniqueReference('page');
    const payment = await createPayment(reference, { bank: 'KOTAK' });
    const response = await fetch(payment.redirectUrl);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('1,050.00');
    expect(html).toContain('ZenPAY');
    expect(html).toContain('KOTAK');
    expect(html).toContain(reference);
    expect(html).toContain(`<form method="post" action="/v1/payments/${payment.id}/approve">`);
    expect(html).toContain(`<form method="post" action="/v1/payments/${payment.id}/decline">`);
  });

  test('netbanking page | escapes a reference holding HTML | shows it as text', async () => {
    const payment = await createPayment(`<script>alert(1)</script>-${randomUUID()}`);
    const html = await (await fetch(payment.redirectUrl)).text();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
  });

  test('netbanking page | Approve form posted | answers a page and sends a signed payment.succeeded webhook', async () => {
    const reference = uniqueReference('approve');
    const payment = await createPayment(reference);
    const html = await (await fetch(payment.redirectUrl)).text();
    const action = /<form method="post" action="([^"]+\/approve)">/.exec(html)?.[1];
    expect(action).toBeDefined();
    const response = await postForm(`${simulator.url}${action}`, { decision: 'approve' });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Payment approved');

    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.webhookId).toMatch(/^msg_/);
    expect(webhook?.verifiedWith).toEqual([true, true]);
    expect(webhook?.event).toEqual({
      type: 'payment.succeeded',
      timestamp: expect.stringMatching(rfc3339Pattern),
      data: { id: payment.id, reference, amount: '105000', currency: 'INR', status: 'succeeded', bank: 'HDFC' },
    });
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('succeeded');
  });

  test('payments | declined by a script | answers the failed payment as JSON and sends payment.failed', async () => {
    const reference = uniqueReference('decline');
    const payment = await createPayment(reference);
    const answer = await api('POST', `/v1/payments/${payment.id}/decline`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: payment.id, status: 'failed' });
    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.event.type).toBe('payment.failed');
    expect(webhook?.event.data.status).toBe('failed');
  });

  test('payments | decided twice | answers 409 ALREADY_DECIDED and keeps the first outcome', async () => {
    const reference = uniqueReference('twice-decided');
    const payment = await createPayment(reference);
    expect((await api('POST', `/v1/payments/${payment.id}/approve`)).status).toBe(200);
    const again = await api('POST', `/v1/payments/${payment.id}/decline`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('ALREADY_DECIDED');
    const formAgain = await postForm(`${simulator.url}/v1/payments/${payment.id}/approve`, { decision: 'approve' });
    expect(formAgain.status).toBe(409);
    expect(await formAgain.text()).toContain('already');
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('succeeded');
    await receiver.waitForReference(reference);
    await sleep(100);
    expect(receiver.forReference(reference)).toHaveLength(1);
  });

  test('payments | unknown id decided | answers 404 NOT_FOUND', async () => {
    const answer = await api('POST', '/v1/payments/pay_unknown/approve');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('NOT_FOUND');
  });

  test('payments | form post on a payment with a returnUrl | redirects 303 there with payment and status added to its query', async () => {
    const returnUrl = 'http://127.0.0.1:9/checkout/return?order=7';
    const payment = await createPayment(uniqueReference('return'), { returnUrl });
    const response = await postForm(`${simulator.url}/v1/payments/${payment.id}/decline`, { decision: 'decline' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${returnUrl}&payment=${payment.id}&status=failed`);
  });

  test('payments | Approve form, returnUrl with a fragment and no query | redirects with ?payment=&status= before the fragment', async () => {
    const payment = await createPayment(uniqueReference('return-plain'), { returnUrl: 'https://shop.example/done#summary' });
    const response = await postForm(`${simulator.url}/v1/payments/${payment.id}/approve`, { decision: 'approve' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`https://shop.example/done?payment=${payment.id}&status=succeeded#summary`);
  });

  test('payments | script approves a payment with a returnUrl | answers JSON 200, not a redirect', async () => {
    const payment = await createPayment(uniqueReference('return-script'), { returnUrl: 'https://shop.example/done' });
    const answer = await api('POST', `/v1/payments/${payment.id}/approve`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: payment.id, status: 'succeeded' });
  });

  test('payments | autoApprovePaymentsMs set | approves by itself and sends payment.succeeded', async () => {
    await setControl({ autoApprovePaymentsMs: 50 });
    const reference = uniqueReference('auto');
    const payment = await createPayment(reference);
    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.event.type).toBe('payment.succeeded');
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('succeeded');
  });

  test('payments | declineRate 1 and a person approves | the approval stands', async () => {
    await setControl({ declineRate: 1 });
    const payment = await createPayment(uniqueReference('person'));
    const answer = await api('POST', `/v1/payments/${payment.id}/approve`);
    expect(answer.body.status).toBe('succeeded');
  });
});

describe('payouts', () => {
  test('payouts | new payout | is pending, settles by itself and sends payout.succeeded with the bank account', async () => {
    await setControl({ payoutSettleMs: 100 });
    const reference = uniqueReference('payout');
    const created = await api('POST', '/v1/payouts', payoutRequest(reference));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ reference, status: 'pending' });
    expect(created.body.id).toMatch(/^pout_/);

    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.event).toEqual({
      type: 'payout.succeeded',
      timestamp: expect.stringMatching(rfc3339Pattern),
      data: {
        id: created.body.id,
        reference,
        amount: '25000',
        currency: 'INR',
        status: 'succeeded',
        bank: 'SBI',
        bankAccount: '50100012345678',
      },
    });
    const settled = await api('GET', `/v1/payouts/${created.body.id}`);
    expect(settled.body).toMatchObject({ status: 'succeeded', bankAccount: '50100012345678' });
    expect((await api('GET', `/v1/payouts?reference=${encodeURIComponent(reference)}`)).body).toEqual(settled.body);
  });

  test('payouts | same reference twice, then with another account | answers 200 the same payout, then 409', async () => {
    const reference = uniqueReference('payout-twice');
    const first = await api('POST', '/v1/payouts', payoutRequest(reference));
    const second = await api('POST', '/v1/payouts', payoutRequest(reference));
    const conflicting = await api('POST', '/v1/payouts', payoutRequest(reference, { bankAccount: '999999999' }));
    expect([first.status, second.status, conflicting.status]).toEqual([201, 200, 409]);
    expect(second.body).toEqual(first.body);
    expect(conflicting.body.error.code).toBe('REFERENCE_CONFLICT');
  });

  test('payouts | no bank account | answers 400 BAD_REQUEST', async () => {
    const answer = await api('POST', '/v1/payouts', payoutRequest(uniqueReference('no-account'), { bankAccount: undefined }));
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('BAD_REQUEST');
  });

  test('payouts | declineRate 1 | fail and send payout.failed', async () => {
    await setControl({ payoutSettleMs: 20, declineRate: 1 });
    const reference = uniqueReference('payout-fail');
    const created = await api('POST', '/v1/payouts', payoutRequest(reference));
    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.event.type).toBe('payout.failed');
    expect((await api('GET', `/v1/payouts/${created.body.id}`)).body.status).toBe('failed');
  });
});

describe('webhook deliveries', () => {
  test('webhooks | receiver answers 500 twice | delivered on the 3rd attempt, same webhook-id, fresh timestamps', async () => {
    // The last gap exceeds a second so that the third attempt's unix-seconds timestamp must differ.
    await setControl({ webhookRetryScheduleMs: [0, 50, 1_100] });
    const reference = uniqueReference('retry');
    let attempts = 0;
    receiver.answer = (webhook) => (webhook.event.data.reference === reference && ++attempts <= 2 ? 500 : 204);
    const payment = await createPayment(reference);
    await api('POST', `/v1/payments/${payment.id}/approve`);

    const webhooks = await receiver.waitForReference(reference, 3);
    expect(webhooks.map((webhook) => webhook.answeredStatus)).toEqual([500, 500, 204]);
    expect(new Set(webhooks.map((webhook) => webhook.webhookId)).size).toBe(1);
    expect(new Set(webhooks.map((webhook) => webhook.body)).size).toBe(1);
    const [first, , third] = webhooks as [ReceivedWebhook, ReceivedWebhook, ReceivedWebhook];
    expect(third.timestampSeconds).toBeGreaterThan(first.timestampSeconds);
    expect(third.signature).not.toBe(first.signature);
    const [delivery] = await deliveriesFor(reference);
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 3, lastStatusCode: 204 });
  });

  test('webhooks | receiver always answers 500 | gives up after the last attempt of the schedule', async () => {
    const reference = uniqueReference('give-up');
    receiver.answer = (webhook) => (webhook.event.data.reference === reference ? 500 : 204);
    const payment = await createPayment(reference);
    await api('POST', `/v1/payments/${payment.id}/approve`);
    await waitUntil(async () => (await deliveriesFor(reference))[0]?.state === 'given-up');
    await sleep(250);
    expect(receiver.forReference(reference)).toHaveLength(4);
    expect((await deliveriesFor(reference))[0]).toMatchObject({ attempts: 4, lastStatusCode: 500 });
  });

  test('webhooks | duplicateRate 1 | delivers the same webhook-id twice', async () => {
    await setControl({ duplicateRate: 1 });
    const reference = uniqueReference('duplicate');
    const payment = await createPayment(reference);
    await api('POST', `/v1/payments/${payment.id}/approve`);
    const webhooks = await receiver.waitForReference(reference, 2);
    expect(webhooks[0]?.webhookId).toBe(webhooks[1]?.webhookId);
    expect(webhooks[0]?.body).toBe(webhooks[1]?.body);
  });

  test('webhooks | dropRate 1 | never delivers, while the status API says succeeded', async () => {
    await setControl({ dropRate: 1 });
    const reference = uniqueReference('drop');
    const payment = await createPayment(reference);
    await api('POST', `/v1/payments/${payment.id}/approve`);
    await sleep(400);
    expect(receiver.forReference(reference)).toEqual([]);
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('succeeded');
    expect((await deliveriesFor(reference))[0]?.state).toBe('dropped');
  });

  test('webhooks | failFirstDeliveries 2 | loses two attempts unsent and delivers the third', async () => {
    await setControl({ failFirstDeliveries: 2 });
    const reference = uniqueReference('lost');
    const payment = await createPayment(reference);
    await api('POST', `/v1/payments/${payment.id}/approve`);
    await receiver.waitForReference(reference);
    await sleep(100);
    expect(receiver.forReference(reference)).toHaveLength(1);
    expect((await deliveriesFor(reference))[0]).toMatchObject({ state: 'delivered', attempts: 3 });
  });

  test('webhooks | two secrets configured | the signature verifies with either secret alone', async () => {
    const reference = uniqueReference('rotation');
    const payment = await createPayment(reference);
    await api('POST', `/v1/payments/${payment.id}/approve`);
    const [webhook] = (await receiver.waitForReference(reference)) as [ReceivedWebhook];
    expect(webhook.signature.split(' ')).toHaveLength(2);
    const headers = {
      'webhook-id': webhook.webhookId,
      'webhook-timestamp': String(webhook.timestampSeconds),
      'webhook-signature': webhook.signature,
    };
    for (const secret of [developmentWebhookSecret, rotatedWebhookSecret]) {
      expect(new Webhook(secret).verify(webhook.body, headers)).toEqual(webhook.event);
    }
    const otherSecret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    expect(() => new Webhook(otherSecret).verify(webhook.body, headers)).toThrow();
  });

  test('webhooks | webhookDelayMs 200 | delays every delivery and lets them arrive out of order', async () => {
    await setControl({ webhookDelayMs: 200 });
    const references = Array.from({ length: 12 }, (_, index) => uniqueReference(`delay-${index}`));
    // Taken before each approve call, so it is no later than the moment the event is made.
    const approvingAtMs = new Map<string, number>();
    for (const reference of references) {
      const payment = await createPayment(reference);
      approvingAtMs.set(reference, Date.now());
      await api('POST', `/v1/payments/${payment.id}/approve`);
    }
    for (const reference of references) await receiver.waitForReference(reference);
    const arrivals = references.map((reference) => receiver.forReference(reference)[0] as ReceivedWebhook);
    for (const [index, webhook] of arrivals.entries()) {
      expect(webhook.receivedAtMs - (approvingAtMs.get(references[index] as string) ?? 0)).toBeGreaterThanOrEqual(198);
    }
    const arrivalOrder = [...arrivals].sort((left, right) => left.receivedAtMs - right.receivedAtMs);
    expect(arrivalOrder.map((webhook) => webhook.event.data.reference)).not.toEqual(references);
  });
});

describe('control', () => {
  test('control | apiErrorRate 1 | answers 503 to Bank API calls while control and the page still work', async () => {
    const payment = await createPayment(uniqueReference('api-error'));
    await setControl({ apiErrorRate: 1 });
    const calls = [
      api('POST', '/v1/payments', paymentRequest(uniqueReference('api-error'))),
      api('GET', `/v1/payments/${payment.id}`),
      api('GET', '/v1/payments?reference=x'),
      api('POST', `/v1/payments/${payment.id}/cancel`),
      api('POST', '/v1/payouts', payoutRequest(uniqueReference('api-error'))),
      api('GET', '/v1/payouts/pout_x'),
      api('POST', '/v1/refunds', { payment: payment.id, amount: '100', reference: uniqueReference('api-error') }),
      api('GET', '/v1/refunds/rfnd_x'),
      api('GET', '/v1/refunds?reference=x'),
    ];
    for (const answer of await Promise.all(calls)) {
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('BANK_UNAVAILABLE');
    }
    expect((await api('GET', '/v1/_control')).body.apiErrorRate).toBe(1);
    expect((await fetch(payment.redirectUrl)).status).toBe(200);
    await setControl({ apiErrorRate: 0 });
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('pending');
  });

  test.each([
    ['an unknown field', { declineRates: 0.5 }],
    ['a rate above 1', { declineRate: 1.5 }],
    ['a negative delay', { payoutSettleMs: -1 }],
    ['a fractional count', { failFirstDeliveries: 1.5 }],
    ['an empty retry schedule', { webhookRetryScheduleMs: [] }],
    ['a string for a number', { dropRate: '0.5' }],
    ['api fault rates adding up to more than 1', { apiFaults: { '408': 0.6, '429': 0.5 } }],
    ['an api fault for another status', { apiFaults: { '500': 0.1 } }],
    ['a negative refund delay', { refundSettleMs: -1 }],
  ])('control | update with %s | answers 400 and changes nothing', async (_label, update) => {
    const before = (await api('GET', '/v1/_control')).body;
    const answer = await api('POST', '/v1/_control', update);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('BAD_REQUEST');
    expect((await api('GET', '/v1/_control')).body).toEqual(before);
  });

  test('control | update then reset | shows the change, then the defaults of bank.md', async () => {
    const defaults = (await api('GET', '/v1/_control')).body;
    expect(defaults).toMatchObject({
      autoApprovePaymentsMs: null,
      payoutSettleMs: 1_000,
      declineRate: 0,
      duplicateRate: 0,
      dropRate: 0,
      webhookDelayMs: 0,
      failFirstDeliveries: 0,
      apiErrorRate: 0,
      refundSettleMs: 1_000,
      apiFaults: { '408': 0, '429': 0, '404': 0 },
      webhookRetryScheduleMs: [0, 50, 100, 200],
    });
    const updated = await api('POST', '/v1/_control', { declineRate: 0.25, autoApprovePaymentsMs: 10 });
    expect(updated.body).toEqual({ ...defaults, declineRate: 0.25, autoApprovePaymentsMs: 10 });
    expect((await api('POST', '/v1/_control/reset')).body).toEqual(defaults);
  });
});

describe('cancel', () => {
  test('cancel | pending payment | answers 200 canceled, the status API says canceled and no webhook is sent', async () => {
    const reference = uniqueReference('cancel');
    const payment = await createPayment(reference);
    const answer = await api('POST', `/v1/payments/${payment.id}/cancel`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: payment.id, status: 'canceled' });
    const byId = await api('GET', `/v1/payments/${payment.id}`);
    expect(byId.body).toMatchObject({ status: 'canceled', decidedAt: expect.stringMatching(rfc3339Pattern) });
    expect((await api('GET', `/v1/payments?reference=${encodeURIComponent(reference)}`)).body).toEqual(byId.body);
    await sleep(100);
    expect(await deliveriesFor(reference)).toEqual([]);
    expect(receiver.forReference(reference)).toEqual([]);
  });

  test('cancel | canceled twice | answers 200 canceled both times', async () => {
    const payment = await createPayment(uniqueReference('cancel-twice'));
    const first = await api('POST', `/v1/payments/${payment.id}/cancel`);
    const second = await api('POST', `/v1/payments/${payment.id}/cancel`);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body).toEqual(first.body);
  });

  test('cancel | then approved by a script and through the page | both answer 409 and the page says it was canceled', async () => {
    const reference = uniqueReference('cancel-then-approve');
    const payment = await createPayment(reference);
    expect((await api('POST', `/v1/payments/${payment.id}/cancel`)).status).toBe(200);

    const byScript = await api('POST', `/v1/payments/${payment.id}/approve`);
    expect(byScript.status).toBe(409);
    expect(byScript.body.error.code).toBe('ALREADY_DECIDED');
    expect(byScript.body.payment).toMatchObject({ id: payment.id, reference, status: 'canceled' });
    const byForm = await postForm(`${simulator.url}/v1/payments/${payment.id}/approve`, { decision: 'approve' });
    expect(byForm.status).toBe(409);
    expect(await byForm.text()).toContain('Payment canceled');
    const page = await (await fetch(payment.redirectUrl)).text();
    expect(page).toContain('canceled');
    expect(page).not.toContain('<form');
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('canceled');
    expect(await deliveriesFor(reference)).toEqual([]);
  });

  test.each([
    ['approved', 'approve', 'succeeded'],
    ['declined', 'decline', 'failed'],
  ])('cancel | after the payment was %s | answers 409 ALREADY_DECIDED with the payment, which keeps its outcome', async (_label, decision, status) => {
    const reference = uniqueReference(`${decision}-then-cancel`);
    const payment = await createPayment(reference);
    expect((await api('POST', `/v1/payments/${payment.id}/${decision}`)).status).toBe(200);
    const answer = await api('POST', `/v1/payments/${payment.id}/cancel`);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('ALREADY_DECIDED');
    expect(answer.body.payment).toMatchObject({ id: payment.id, reference, amount: '105000', status });
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe(status);
  });

  test('cancel | pending auto-approval | the payment stays canceled and no webhook is sent', async () => {
    await setControl({ autoApprovePaymentsMs: 100 });
    const reference = uniqueReference('cancel-auto');
    const payment = await createPayment(reference);
    expect((await api('POST', `/v1/payments/${payment.id}/cancel`)).status).toBe(200);
    await sleep(300);
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('canceled');
    expect(await deliveriesFor(reference)).toEqual([]);
    expect(receiver.forReference(reference)).toEqual([]);
  });

  test('cancel | unknown id | answers 404 NOT_FOUND', async () => {
    const answer = await api('POST', '/v1/payments/pay_unknown/cancel');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('NOT_FOUND');
  });

  test('cancel | approve and cancel fired at once, 40 times | one wins, the loser learns its outcome, a webhook only if approve won', async () => {
    const rounds = 40;
    const races = await Promise.all(
      Array.from({ length: rounds }, async (_, round) => {
        const reference = uniqueReference(`race-${round}`);
        const payment = await createPayment(reference);
        // Sent in turn first, so that both sides win some races.
        const approveFirst = round % 2 === 0;
        const cancel = approveFirst ? null : api('POST', `/v1/payments/${payment.id}/cancel`);
        const approve = api('POST', `/v1/payments/${payment.id}/approve`);
        const [approved, canceled] = await Promise.all([approve, cancel ?? api('POST', `/v1/payments/${payment.id}/cancel`)]);
        return { reference, payment, approved, canceled };
      }),
    );
    const winners = { approve: 0, cancel: 0 };
    for (const { reference, payment, approved, canceled } of races) {
      expect([approved.status, canceled.status].sort()).toEqual([200, 409]);
      const approveWon = approved.status === 200;
      winners[approveWon ? 'approve' : 'cancel'] += 1;
      const standing = approveWon ? 'succeeded' : 'canceled';
      const loser = approveWon ? canceled : approved;
      expect(loser.body.error.code).toBe('ALREADY_DECIDED');
      expect(loser.body.payment).toMatchObject({ id: payment.id, status: standing });
      expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe(standing);
      // The deliveries are planned in the same journal write as the outcome, so the log is already complete.
      const deliveries = await deliveriesFor(reference);
      expect(deliveries).toHaveLength(approveWon ? 1 : 0);
      if (approveWon) {
        const webhooks = await receiver.waitForReference(reference);
        expect(webhooks.map((webhook) => webhook.event.type)).toEqual(['payment.succeeded']);
      }
    }
    expect(winners.approve + winners.cancel).toBe(rounds);
    expect(winners.approve).toBeGreaterThan(0);
    expect(winners.cancel).toBeGreaterThan(0);
    await sleep(100);
    for (const { reference, approved } of races) {
      expect(receiver.forReference(reference)).toHaveLength(approved.status === 200 ? 1 : 0);
    }
  });
});

describe('refunds', () => {
  test('refunds | of a succeeded payment | answers 201 pending, settles by itself and sends a signed refund.succeeded', async () => {
    await setControl({ refundSettleMs: 50 });
    const payment = await succeededPayment(uniqueReference('refunded'));
    const reference = uniqueReference('refund');
    const created = await api('POST', '/v1/refunds', { payment: payment.id, amount: '40000', reference });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ payment: payment.id, amount: '40000', reference, currency: 'INR', status: 'pending' });
    expect(created.body.id).toMatch(/^rfnd_/);

    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.verifiedWith).toEqual([true, true]);
    expect(webhook?.event).toEqual({
      type: 'refund.succeeded',
      timestamp: expect.stringMatching(rfc3339Pattern),
      data: { id: created.body.id, reference, amount: '40000', currency: 'INR', status: 'succeeded', payment: payment.id },
    });
    const settled = await api('GET', `/v1/refunds/${created.body.id}`);
    expect(settled.body).toMatchObject({ id: created.body.id, status: 'succeeded', decidedAt: expect.stringMatching(rfc3339Pattern) });
    expect((await api('GET', `/v1/refunds?reference=${encodeURIComponent(reference)}`)).body).toEqual(settled.body);
    expect((await api('GET', `/v1/refunds?payment=${payment.id}`)).body).toEqual({ refunds: [settled.body] });
  });

  test('refunds | same reference twice, then with another amount or payment | answers 200 the same refund, then 409 REFERENCE_CONFLICT', async () => {
    const payment = await succeededPayment(uniqueReference('refund-twice'));
    const other = await succeededPayment(uniqueReference('refund-twice-other'));
    const reference = uniqueReference('refund-twice');
    const first = await api('POST', '/v1/refunds', { payment: payment.id, amount: '100', reference });
    const second = await api('POST', '/v1/refunds', { payment: payment.id, amount: '100', reference });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body).toEqual(first.body);
    for (const conflicting of [{ payment: payment.id, amount: '101' }, { payment: other.id, amount: '100' }]) {
      const answer = await api('POST', '/v1/refunds', { ...conflicting, reference });
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('REFERENCE_CONFLICT');
    }
    expect((await api('GET', `/v1/refunds?payment=${payment.id}`)).body.refunds).toHaveLength(1);
  });

  test('refunds | partial refunds | add up to the payment, pending ones included, and one paisa more answers 409 REFUND_EXCEEDS_PAYMENT', async () => {
    await setControl({ refundSettleMs: 60_000 });
    const payment = await succeededPayment(uniqueReference('partial'));
    const label = uniqueReference('partial-refund');
    const first = await createRefund(payment.id, `${label}-1`, '60000');
    const tooMuch = await api('POST', '/v1/refunds', { payment: payment.id, amount: '45001', reference: `${label}-2` });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error.code).toBe('REFUND_EXCEEDS_PAYMENT');
    expect(tooMuch.body.error.message).toContain('45000');
    const second = await createRefund(payment.id, `${label}-3`, '45000');
    const onePaisa = await api('POST', '/v1/refunds', { payment: payment.id, amount: '1', reference: `${label}-4` });
    expect(onePaisa.status).toBe(409);
    expect(onePaisa.body.error.code).toBe('REFUND_EXCEEDS_PAYMENT');
    const listed = (await api('GET', `/v1/refunds?payment=${payment.id}`)).body.refunds;
    expect(listed.map((refund: { id: string; status: string }) => [refund.id, refund.status])).toEqual([
      [first.id, 'pending'],
      [second.id, 'pending'],
    ]);
  });

  test('refunds | a payment refunded 100 times | refuses the 101st with 409 TOO_MANY_REFUNDS though money is left', async () => {
    await setControl({ refundSettleMs: 60_000 });
    const payment = await succeededPayment(uniqueReference('many-refunds'));
    const label = uniqueReference('many-refunds');
    // In batches, so the simulator sees some concurrency but no more than a few dozen sockets.
    for (let batch = 0; batch < 4; batch += 1) {
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, index) =>
          api('POST', '/v1/refunds', { payment: payment.id, amount: '1', reference: `${label}-${batch * 25 + index}` }),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(25).fill(201));
    }
    const refused = await api('POST', '/v1/refunds', { payment: payment.id, amount: '1', reference: `${label}-100` });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('TOO_MANY_REFUNDS');
    expect((await api('GET', `/v1/refunds?payment=${payment.id}`)).body.refunds).toHaveLength(100);
  });

  test('refunds | a refund that failed | sends refund.failed and no longer counts against the payment', async () => {
    await setControl({ refundSettleMs: 20, declineRate: 1 });
    const payment = await succeededPayment(uniqueReference('refund-fails'));
    const reference = uniqueReference('refund-fails');
    const failing = await createRefund(payment.id, reference, '105000');
    const [webhook] = await receiver.waitForReference(reference);
    expect(webhook?.event).toMatchObject({ type: 'refund.failed', data: { id: failing.id, status: 'failed', payment: payment.id } });
    expect((await api('GET', `/v1/refunds/${failing.id}`)).body.status).toBe('failed');

    await setControl({ declineRate: 0 });
    const retried = await createRefund(payment.id, uniqueReference('refund-retried'), '105000');
    expect(retried.status).toBe('pending');
  });

  test.each([
    ['still pending', 'pending', null],
    ['declined', 'failed', 'decline'],
    ['canceled', 'canceled', 'cancel'],
  ])('refunds | of a payment %s | answers 409 PAYMENT_NOT_SUCCEEDED and makes nothing', async (_label, status, action) => {
    const payment = await createPayment(uniqueReference(`refund-${status}`));
    if (action !== null) expect((await api('POST', `/v1/payments/${payment.id}/${action}`)).status).toBe(200);
    const reference = uniqueReference('refund-refused');
    const answer = await api('POST', '/v1/refunds', { payment: payment.id, amount: '100', reference });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('PAYMENT_NOT_SUCCEEDED');
    expect((await api('GET', `/v1/refunds?reference=${encodeURIComponent(reference)}`)).status).toBe(404);
    expect((await api('GET', `/v1/refunds?payment=${payment.id}`)).body).toEqual({ refunds: [] });
  });

  test('refunds | unknown payment, refund id or reference | answers 404 NOT_FOUND', async () => {
    const answers = [
      await api('POST', '/v1/refunds', { payment: 'pay_unknown', amount: '100', reference: uniqueReference('refund-unknown') }),
      await api('GET', '/v1/refunds/rfnd_unknown'),
      await api('GET', '/v1/refunds?reference=unknown'),
      await api('GET', '/v1/refunds?payment=pay_unknown'),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
  });

  test.each([
    ['no query', ''],
    ['both reference and payment', '?reference=r&payment=p'],
    ['an empty reference', '?reference='],
  ])('refunds | listed with %s | answers 400 BAD_REQUEST', async (_label, query) => {
    const answer = await api('GET', `/v1/refunds${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('BAD_REQUEST');
  });

  test.each([
    ['a zero amount', 'BAD_AMOUNT', { amount: '0' }],
    ['an amount as a JSON number', 'BAD_AMOUNT', { amount: 100 }],
    ['an amount with a decimal point', 'BAD_AMOUNT', { amount: '1.00' }],
    ['no reference', 'BAD_REQUEST', { reference: undefined }],
    ['no payment', 'BAD_REQUEST', { payment: undefined }],
  ])('refunds | requested with %s | answers 400 %s', async (_label, code, overrides) => {
    const body = { payment: 'pay_x', amount: '100', reference: uniqueReference('refund-bad'), ...overrides };
    const answer = await api('POST', '/v1/refunds', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(code);
  });

  test('refunds | duplicateRate 1 and a receiver answering 500 first | the refund webhook comes twice with one webhook-id and is retried', async () => {
    await setControl({ refundSettleMs: 20, duplicateRate: 1 });
    const payment = await succeededPayment(uniqueReference('refund-duplicate'));
    const reference = uniqueReference('refund-duplicate');
    let attempts = 0;
    receiver.answer = (webhook) => (webhook.event.data.reference === reference && ++attempts === 1 ? 500 : 204);
    await createRefund(payment.id, reference, '100');
    const webhooks = await receiver.waitForReference(reference, 3);
    expect(new Set(webhooks.map((webhook) => webhook.webhookId)).size).toBe(1);
    expect(webhooks.map((webhook) => webhook.answeredStatus).sort()).toEqual([204, 204, 500]);
    await waitUntil(async () => (await deliveriesFor(reference)).every((delivery) => delivery.state === 'delivered'));
  });
});

describe('statement', () => {
  // Other tests' payouts may settle during this one, so items are picked out by this test's label.
  test('statement | a range from one decision to another | lists exactly the succeeded payments, payouts and refunds decided in it', async () => {
    await setControl({ payoutSettleMs: 20, refundSettleMs: 20 });
    const label = uniqueReference('statement');
    const ours = (items: { id: string; reference: string }[]) => items.filter((item) => item.reference.startsWith(label));
    const before = await succeededPayment(`${label}-before`);
    await sleep(5);
    const first = await succeededPayment(`${label}-first`, { bank: 'AXIS' });
    await api('POST', `/v1/payments/${(await createPayment(`${label}-declined`)).id}/decline`);
    await api('POST', `/v1/payments/${(await createPayment(`${label}-canceled`)).id}/cancel`);
    await createPayment(`${label}-pending`);
    const payout = (await api('POST', '/v1/payouts', payoutRequest(`${label}-payout`))).body;
    const refund = await createRefund(first.id, `${label}-refund`, '5000');
    await waitForStatus(`/v1/payouts/${payout.id}`, 'succeeded');
    const settledRefund = await waitForStatus(`/v1/refunds/${refund.id}`, 'succeeded');
    await setControl({ declineRate: 1 });
    const failedPayout = (await api('POST', '/v1/payouts', payoutRequest(`${label}-payout-failed`))).body;
    const failedRefund = await createRefund(first.id, `${label}-refund-failed`, '5000');
    await waitForStatus(`/v1/payouts/${failedPayout.id}`, 'failed');
    await waitForStatus(`/v1/refunds/${failedRefund.id}`, 'failed');
    await sleep(5);
    const last = await succeededPayment(`${label}-last`);

    const query = `from=${encodeURIComponent(first.decidedAt)}&to=${encodeURIComponent(last.decidedAt)}`;
    const answer = await api('GET', `/v1/statement?${query}`);
    expect(answer.status).toBe(200);
    const settledPayout = (await api('GET', `/v1/payouts/${payout.id}`)).body;
    expect(ours(answer.body.payments)).toEqual([
      { id: first.id, reference: `${label}-first`, amount: '105000', currency: 'INR', bank: 'AXIS', status: 'succeeded', decidedAt: first.decidedAt },
    ]);
    expect(ours(answer.body.payouts)).toEqual([
      { id: payout.id, reference: `${label}-payout`, amount: '25000', currency: 'INR', bank: 'SBI', status: 'succeeded', decidedAt: settledPayout.decidedAt },
    ]);
    expect(ours(answer.body.refunds)).toEqual([
      {
        id: refund.id,
        reference: `${label}-refund`,
        amount: '5000',
        currency: 'INR',
        bank: 'AXIS',
        status: 'succeeded',
        decidedAt: settledRefund.decidedAt,
        payment: first.id,
      },
    ]);
    for (const item of [...answer.body.payments, ...answer.body.payouts, ...answer.body.refunds]) {
      expect(item.status).toBe('succeeded');
      expect(item.decidedAt >= first.decidedAt && item.decidedAt < last.decidedAt).toBe(true);
    }
    const justAfterLast = new Date(Date.parse(last.decidedAt) + 1).toISOString();
    const wider = await api('GET', `/v1/statement?from=${encodeURIComponent(before.decidedAt)}&to=${encodeURIComponent(justAfterLast)}`);
    expect(ours(wider.body.payments).map((payment) => payment.id)).toEqual([before.id, first.id, last.id]);
  });

  test('statement | a range holding more than 100000 items | answers 400 STATEMENT_TOO_LARGE, while a shorter one is answered', async () => {
    // 100 001 succeeded payments, one a millisecond, written as a journal for a simulator of their own to replay.
    const directory = mkdtempSync(join(tmpdir(), 'bank-sim-statement-'));
    const stateFile = join(directory, 'bank.jsonl');
    const startMs = Date.parse('2001-01-01T00:00:00Z');
    const lines = Array.from({ length: 100_001 }, (_, index) => {
      const at = new Date(startMs + index).toISOString();
      const payment = { id: `pay_bulk${index}`, reference: `bulk-${index}`, amount: '100', currency: 'INR', bank: 'HDFC' };
      const decided = { returnUrl: null, status: 'succeeded', createdAt: at, decidedAt: at, autoDecideAt: null };
      return JSON.stringify({ type: 'payment', payment: { ...payment, ...decided } });
    });
    writeFileSync(stateFile, `${lines.join('\n')}\n`);
    const bulky = await startSimulatorProcess({ BANK_SIM_WEBHOOK_URL: receiver.url, BANK_SIM_STATE_FILE: stateFile, LOG_LEVEL: 'warn' });
    try {
      const everything = await callJson(bulky.url, 'GET', '/v1/statement?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z');
      expect(everything.status).toBe(400);
      expect(everything.body.error.code).toBe('STATEMENT_TOO_LARGE');
      // A shorter range of the same payments is answered (the full 100 000 would only make the test slower).
      const firstSecond = await callJson(bulky.url, 'GET', '/v1/statement?from=2001-01-01T00:00:00Z&to=2001-01-01T00:00:01Z');
      expect(firstSecond.status).toBe(200);
      expect(firstSecond.body.payments).toHaveLength(1_000);
      expect(firstSecond.body.payments.at(-1)).toMatchObject({ id: 'pay_bulk999', decidedAt: '2001-01-01T00:00:00.999Z' });
    } finally {
      await bulky.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('statement | an empty range and one with an offset | answer 200 with empty lists', async () => {
    const answer = await api('GET', '/v1/statement?from=2001-01-01T05:30:00%2B05:30&to=2001-01-01T00:00:00Z');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ payments: [], payouts: [], refunds: [] });
  });

  test.each([
    ['no to', '?from=2026-01-01T00:00:00Z'],
    ['a date without a time', '?from=2026-01-01&to=2026-01-02T00:00:00Z'],
    ['a time without an offset', '?from=2026-01-01T00:00:00&to=2026-01-02T00:00:00Z'],
    ['no such day', '?from=2026-02-30T00:00:00Z&to=2026-03-02T00:00:00Z'],
    ['from after to', '?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'],
    ['from given twice', '?from=2026-01-01T00:00:00Z&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z'],
  ])('statement | range with %s | answers 400 BAD_REQUEST', async (_label, query) => {
    const answer = await api('GET', `/v1/statement${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('BAD_REQUEST');
  });
});

describe('api faults', () => {
  test('apiFaults | 408 on creating a payout, a payment and a refund | each was made: found by reference, a retry answers 200', async () => {
    const payment = await succeededPayment(uniqueReference('fault-refunded'));
    await setControl({ apiFaults: { '408': 1 } });
    const creates = [
      { path: '/v1/payouts', lookup: '/v1/payouts', body: payoutRequest(uniqueReference('fault-408-payout')) },
      { path: '/v1/payments', lookup: '/v1/payments', body: paymentRequest(uniqueReference('fault-408-payment')) },
      { path: '/v1/refunds', lookup: '/v1/refunds', body: { payment: payment.id, amount: '100', reference: uniqueReference('fault-408-refund') } },
    ];
    for (const create of creates) {
      const answer = await api('POST', create.path, create.body);
      expect(answer.status).toBe(408);
      expect(answer.body.error.code).toBe('REQUEST_TIMEOUT');
    }
    await setControl({ apiFaults: {} });
    for (const create of creates) {
      const found = await api('GET', `${create.lookup}?reference=${encodeURIComponent(create.body.reference)}`);
      expect(found.status).toBe(200);
      expect(found.body.status).toBe('pending');
      const retried = await api('POST', create.path, create.body);
      expect(retried.status).toBe(200);
      expect(retried.body.id).toBe(found.body.id);
    }
  });

  test('apiFaults | 429 on creates | answers 429 with retry-after 1 and makes nothing', async () => {
    const payment = await succeededPayment(uniqueReference('fault-429-refunded'));
    const statsBefore = (await api('GET', '/v1/_stats')).body;
    await setControl({ apiFaults: { '429': 1 } });
    const payoutBody = payoutRequest(uniqueReference('fault-429-payout'));
    const paymentBody = paymentRequest(uniqueReference('fault-429-payment'));
    const refundBody = { payment: payment.id, amount: '100', reference: uniqueReference('fault-429-refund') };
    const answers = [
      await api('POST', '/v1/payouts', payoutBody),
      await api('POST', '/v1/payments', paymentBody),
      await api('POST', '/v1/refunds', refundBody),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(429);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.body.error.code).toBe('RATE_LIMITED');
    }
    await setControl({ apiFaults: {} });
    expect((await api('GET', `/v1/payouts?reference=${encodeURIComponent(payoutBody.reference)}`)).status).toBe(404);
    expect((await api('GET', `/v1/payments?reference=${encodeURIComponent(paymentBody.reference)}`)).status).toBe(404);
    expect((await api('GET', `/v1/refunds?reference=${encodeURIComponent(refundBody.reference)}`)).status).toBe(404);
    const statsAfter = (await api('GET', '/v1/_stats')).body;
    expect(statsAfter.apiFaultsInjected['429'] - statsBefore.apiFaultsInjected['429']).toBe(3);
    expect(statsAfter.payments.total - statsBefore.payments.total).toBe(0);
  });

  test('apiFaults | 404 on reads by id | answers 404 while the objects exist; creates and lookups by reference are not affected', async () => {
    await setControl({ refundSettleMs: 60_000 });
    const reference = uniqueReference('fault-404');
    const payment = await succeededPayment(reference);
    const payout = (await api('POST', '/v1/payouts', payoutRequest(uniqueReference('fault-404-payout')))).body;
    const refund = await createRefund(payment.id, uniqueReference('fault-404-refund'), '100');
    await setControl({ apiFaults: { '404': 1 } });
    for (const path of [`/v1/payments/${payment.id}`, `/v1/payouts/${payout.id}`, `/v1/refunds/${refund.id}`]) {
      const answer = await api('GET', path);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
    expect((await api('GET', `/v1/payments?reference=${encodeURIComponent(reference)}`)).status).toBe(200);
    expect((await api('POST', '/v1/payments', paymentRequest(uniqueReference('fault-404-new')))).status).toBe(201);
    await setControl({ apiFaults: {} });
    expect((await api('GET', `/v1/payments/${payment.id}`)).status).toBe(200);
  });

  test('apiFaults | same seed twice | the same calls fail the same way', async () => {
    const payment = await createPayment(uniqueReference('fault-seed'));
    const run = async () => {
      await setControl({ seed: 7, apiFaults: { '429': 0.3, '404': 0.3 } });
      const statuses: number[] = [];
      for (let call = 0; call < 30; call += 1) statuses.push((await api('GET', `/v1/payments/${payment.id}`)).status);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 404, 429]));
  });
});

describe('restart with a state file', () => {
  let directory: string;
  let restartable: SimulatorProcess | undefined;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'bank-sim-test-'));
  });

  afterAll(async () => {
    await restartable?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  test('restart | SIGKILL and a torn last line, then start again | payments survive, a pending payout settles and undelivered webhooks resume', async () => {
    // No secrets given: the process signs with the development secret, which the receiver also knows.
    const environment = {
      BANK_SIM_WEBHOOK_URL: receiver.url,
      BANK_SIM_STATE_FILE: join(directory, 'bank.jsonl'),
      BANK_SIM_RETRY_SCHEDULE_MS: '0,300,300,300,300,300',
      LOG_LEVEL: 'warn',
    };
    restartable = await startSimulatorProcess(environment);
    const call = (method: string, path: string, body?: unknown) => callJson(restartable?.url ?? '', method, path, body);
    const delivered = uniqueReference('restart-delivered');
    const undelivered = uniqueReference('restart-undelivered');
    const payoutReference = uniqueReference('restart-payout');
    receiver.answer = (webhook) => (webhook.event.data.reference === undelivered ? 503 : 204);

    const deliveredPayment = (await call('POST', '/v1/payments', paymentRequest(delivered))).body;
    await call('POST', `/v1/payments/${deliveredPayment.id}/approve`);
    await receiver.waitForReference(delivered);
    const undeliveredPayment = (await call('POST', '/v1/payments', paymentRequest(undelivered))).body;
    await call('POST', `/v1/payments/${undeliveredPayment.id}/decline`);
    const [refused] = await receiver.waitForReference(undelivered);
    // Long enough to outlast the kill and the restart, so the settlement must come from the restarted process.
    expect((await call('POST', '/v1/_control', { payoutSettleMs: 4_000 })).status).toBe(200);
    const payout = (await call('POST', '/v1/payouts', payoutRequest(payoutReference))).body;
    expect((await restartable.kill()).signal).toBe('SIGKILL');
    // A write cut short by a crash leaves a torn last line; the restart must cut it off and carry on.
    appendFileSync(environment.BANK_SIM_STATE_FILE, '{"type":"payment","payment":{"id":"pay_torn');

    receiver.answer = () => 204;
    restartable = await startSimulatorProcess(environment);
    expect(restartable.output.join('\n')).toContain('journal ends with a torn line');
    expect((await call('GET', `/v1/payments/${deliveredPayment.id}`)).body.status).toBe('succeeded');
    expect((await call('GET', `/v1/payments/${undeliveredPayment.id}`)).body.status).toBe('failed');
    const restoredPayout = await call('GET', `/v1/payouts?reference=${encodeURIComponent(payoutReference)}`);
    expect(restoredPayout.body).toMatchObject({ id: payout.id, status: 'pending' });
    expect(receiver.forReference(payoutReference)).toEqual([]);

    const [payoutWebhook] = await receiver.waitForReference(payoutReference, 1, 10_000);
    expect(payoutWebhook?.event.type).toBe('payout.succeeded');
    expect(payoutWebhook?.verifiedWith[0]).toBe(true);
    const retried = await receiver.waitForReference(undelivered, 2, 8_000);
    expect(retried.at(-1)).toMatchObject({ webhookId: refused?.webhookId, answeredStatus: 204 });
    expect(receiver.forReference(delivered)).toHaveLength(1);
    expect((await call('GET', `/v1/payouts/${payout.id}`)).body.status).toBe('succeeded');
  });

  test('restart | SIGKILL with a canceled payment and refunds, then start again | it stays canceled and a pending refund settles', async () => {
    await restartable?.stop();
    const environment = {
      BANK_SIM_WEBHOOK_URL: receiver.url,
      BANK_SIM_STATE_FILE: join(directory, 'bank-refunds.jsonl'),
      LOG_LEVEL: 'warn',
    };
    restartable = await startSimulatorProcess(environment);
    const call = (method: string, path: string, body?: unknown) => callJson(restartable?.url ?? '', method, path, body);
    const canceled = (await call('POST', '/v1/payments', paymentRequest(uniqueReference('restart-canceled')))).body;
    expect((await call('POST', `/v1/payments/${canceled.id}/cancel`)).status).toBe(200);
    const refunded = (await call('POST', '/v1/payments', paymentRequest(uniqueReference('restart-refunded')))).body;
    expect((await call('POST', `/v1/payments/${refunded.id}/approve`)).status).toBe(200);
    expect((await call('POST', '/v1/_control', { refundSettleMs: 0 })).status).toBe(200);
    const settledReference = uniqueReference('restart-refund-settled');
    const settled = (await call('POST', '/v1/refunds', { payment: refunded.id, amount: '5000', reference: settledReference })).body;
    await receiver.waitForReference(settledReference);
    // Long enough to outlast the kill and the restart, so the settlement must come from the restarted process.
    expect((await call('POST', '/v1/_control', { refundSettleMs: 4_000 })).status).toBe(200);
    const pendingReference = uniqueReference('restart-refund-pending');
    const pending = (await call('POST', '/v1/refunds', { payment: refunded.id, amount: '100000', reference: pendingReference })).body;
    expect((await restartable.kill()).signal).toBe('SIGKILL');

    restartable = await startSimulatorProcess(environment);
    expect((await call('GET', `/v1/payments/${canceled.id}`)).body.status).toBe('canceled');
    const approve = await call('POST', `/v1/payments/${canceled.id}/approve`);
    expect(approve.status).toBe(409);
    expect(approve.body.payment.status).toBe('canceled');
    expect((await call('GET', `/v1/refunds/${settled.id}`)).body.status).toBe('succeeded');
    const restoredPending = await call('GET', `/v1/refunds?reference=${encodeURIComponent(pendingReference)}`);
    expect(restoredPending.body).toMatchObject({ id: pending.id, status: 'pending' });
    // The restored refunds still count: 105000 - 5000 - 100000 leaves nothing to refund.
    const beyond = await call('POST', '/v1/refunds', { payment: refunded.id, amount: '1', reference: uniqueReference('restart-refund-beyond') });
    expect(beyond.body.error.code).toBe('REFUND_EXCEEDS_PAYMENT');
    expect(receiver.forReference(pendingReference)).toEqual([]);

    const [webhook] = await receiver.waitForReference(pendingReference, 1, 10_000);
    expect(webhook?.event).toMatchObject({ type: 'refund.succeeded', data: { id: pending.id, payment: refunded.id } });
    const listed = (await call('GET', `/v1/refunds?payment=${refunded.id}`)).body.refunds;
    expect(listed.map((refund: { id: string; status: string }) => [refund.id, refund.status])).toEqual([
      [settled.id, 'succeeded'],
      [pending.id, 'succeeded'],
    ]);
  });
});

describe('process', () => {
  test('process | BANK_SIM_PORT not a number | exits 1 naming the variable', async () => {
    const failing = startSimulatorProcess({ BANK_SIM_PORT: 'abc' });
    await expect(failing).rejects.toThrow(/exited \(1\) before listening[\s\S]*BANK_SIM_PORT/);
  });

  test('process | SIGTERM through the tsx launcher of npm run bank-sim | exits 0', async () => {
    const launched = await startSimulatorProcess({ BANK_SIM_WEBHOOK_URL: receiver.url, LOG_LEVEL: 'warn' }, 'tsx');
    expect((await callJson(launched.url, 'GET', '/v1/_health')).status).toBe(200);
    expect(await launched.stop()).toEqual({ code: 0, signal: null });
  });
});
