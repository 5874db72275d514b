// Tests the bank simulator as the engine meets it: the real process (a child on port 0, found through its log
// line), real HTTP from here, and a real webhook receiver here that verifies every signature with the
// standardwebhooks library. A second process with a state file is SIGKILLed and started again.
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
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

  test('payments | form post on a payment with a returnUrl | redirects 303 to the returnUrl', async () => {
    const returnUrl = 'http://127.0.0.1:9/checkout/return?order=7';
    const payment = await createPayment(uniqueReference('return'), { returnUrl });
    const response = await postForm(`${simulator.url}/v1/payments/${payment.id}/decline`, { decision: 'decline' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(returnUrl);
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
      api('POST', '/v1/payouts', payoutRequest(uniqueReference('api-error'))),
      api('GET', '/v1/payouts/pout_x'),
    ];
    for (const answer of await Promise.all(calls)) {
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('BANK_UNAVAILABLE');
    }
    expect((await api('GET', '/v1/_control')).body.apiErrorRate).toBe(1);
    expect((await fetch(payment.redirectUrl)).status).toBe(200);
  });

  test.each([
    ['an unknown field', { declineRates: 0.5 }],
    ['a rate above 1', { declineRate: 1.5 }],
    ['a negative delay', { payoutSettleMs: -1 }],
    ['a fractional count', { failFirstDeliveries: 1.5 }],
    ['an empty retry schedule', { webhookRetryScheduleMs: [] }],
    ['a string for a number', { dropRate: '0.5' }],
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
      webhookRetryScheduleMs: [0, 50, 100, 200],
    });
    const updated = await api('POST', '/v1/_control', { declineRate: 0.25, autoApprovePaymentsMs: 10 });
    expect(updated.body).toEqual({ ...defaults, declineRate: 0.25, autoApprovePaymentsMs: 10 });
    expect((await api('POST', '/v1/_control/reset')).body).toEqual(defaults);
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
