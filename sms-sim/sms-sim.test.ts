// Tests the SMS simulator as the engine and people meet it: the real process (a child on port 0, found
// through its log line) and real HTTP from here. A second process with a state file is SIGKILLed and
// started again; SIGTERM must end it with exit code 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { messagesPerPhoneMax } from './config';

interface SimulatorProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

const repositoryRoot = path.resolve(__dirname, '..');

async function startSimulator(environment: Record<string, string> = {}): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sms-sim/main.ts'], {
    cwd: repositoryRoot,
    env: { ...process.env, SMS_SIM_PORT: '0', LOG_LEVEL: 'warn', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*"msg":"sms simulator listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code} before listening:\n${output}`)));
  });
  return { url, child, exited };
}

let counter = 0;
/** A fresh valid E.164 number per call, so tests do not see each other's messages. */
const phone = (): string => `+9198${String(Date.now() % 1e6).padStart(6, '0')}${String(counter++ % 100).padStart(2, '0')}`;

const post = (url: string, body: unknown) =>
  fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const inbox = async (url: string, to: string) =>
  ((await (await fetch(`${url}/v1/messages?to=${encodeURIComponent(to)}`)).json()) as { messages: Array<{ id: string; to: string; body: string; sentAt: string }> }).messages;
const control = (url: string, body: unknown) =>
  fetch(`${url}/v1/_control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

let simulator: SimulatorProcess;
beforeAll(async () => {
  simulator = await startSimulator();
});
afterAll(async () => {
  simulator.child.kill('SIGTERM');
  await simulator.exited;
});
afterEach(async () => {
  await fetch(`${simulator.url}/v1/_control/reset`, { method: 'POST' });
});

describe('sms simulator', () => {
  test('POST /v1/messages | an E.164 number | 202 queued, and the phone sees it newest first', async () => {
    const to = phone();
    const first = await post(simulator.url, { to, body: 'Your code is 123456', reference: 'ref-1' });
    expect(first.status).toBe(202);
    const accepted = (await first.json()) as { id: string; to: string; status: string };
    expect(accepted).toEqual({ id: expect.stringMatching(/^sms_/), to, status: 'queued' });
    await post(simulator.url, { to, body: 'second' });
    const messages = await inbox(simulator.url, to);
    expect(messages.map((message) => message.body)).toEqual(['second', 'Your code is 123456']);
    expect(messages[1]).toEqual({ id: accepted.id, to, body: 'Your code is 123456', sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(await inbox(simulator.url, phone())).toEqual([]);
  });

  test.each([
    ['a number without plus', { to: '919876543210', body: 'x' }],
    ['a number with spaces', { to: '+91 98765 43210', body: 'x' }],
    ['no number', { body: 'x' }],
    ['an empty body', { to: '+919876543210', body: '' }],
    ['a body of 1,601 characters', { to: '+919876543210', body: 'x'.repeat(1_601) }],
    ['an unknown field', { to: '+919876543210', body: 'x', priority: 'high' }],
  ])('POST /v1/messages | %s | 400 and nothing stored', async (_, body) => {
    const response = await post(simulator.url, body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toMatch(/^INVALID_/);
    expect(await inbox(simulator.url, '+919876543210')).toEqual([]);
  });

  test('GET /v1/messages | no or a malformed number | 400', async () => {
    expect((await fetch(`${simulator.url}/v1/messages`)).status).toBe(400);
    expect((await fetch(`${simulator.url}/v1/messages?to=12345`)).status).toBe(400);
  });

  test(`storage | more than ${messagesPerPhoneMax} messages to one phone | the newest ${messagesPerPhoneMax} are kept`, async () => {
    const to = phone();
    for (let index = 0; index < messagesPerPhoneMax + 10; index++) await post(simulator.url, { to, body: `message ${index}` });
    const messages = await inbox(simulator.url, to);
    expect(messages).toHaveLength(messagesPerPhoneMax);
    expect(messages[0]!.body).toBe(`message ${messagesPerPhoneMax + 9}`);
    expect(messages.at(-1)!.body).toBe('message 10');
  });

  test('GET /inbox/<phone> | a hostile body | escaped HTML under a no-script policy', async () => {
    const to = phone();
    await post(simulator.url, { to, body: `<script>alert("x")</script> & 'code' 654321` });
    const response = await fetch(`${simulator.url}/inbox/${to}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;code&#39; 654321');
    expect((await fetch(`${simulator.url}/inbox/%3Cb%3E`)).status).toBe(400);
  });

  test('control | failRate 1 | 503 and nothing stored; dropRate 1 | 202 and never arrives', async () => {
    const to = phone();
    expect((await control(simulator.url, { failRate: 1 })).status).toBe(200);
    expect((await post(simulator.url, { to, body: 'lost' })).status).toBe(503);
    await control(simulator.url, { failRate: 0, dropRate: 1 });
    expect((await post(simulator.url, { to, body: 'dropped' })).status).toBe(202);
    expect(await inbox(simulator.url, to)).toEqual([]);
  });

  test('control | delayMs | the message arrives that much later', async () => {
    const to = phone();
    await control(simulator.url, { delayMs: 400 });
    expect((await post(simulator.url, { to, body: 'late' })).status).toBe(202);
    expect(await inbox(simulator.url, to)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect((await inbox(simulator.url, to)).map((message) => message.body)).toEqual(['late']);
  });

  test('control | an unknown field or a bad value | 400 and nothing changes', async () => {
    expect((await control(simulator.url, { failRate: 2 })).status).toBe(400);
    expect((await control(simulator.url, { explode: true })).status).toBe(400);
    const settings = (await (await fetch(`${simulator.url}/v1/_control`)).json()) as Record<string, unknown>;
    expect(settings).toMatchObject({ failRate: 0, dropRate: 0, delayMs: 0 });
  });

  test('state file | SIGKILL and start again | the messages are still there; SIGTERM exits 0', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'sms-sim-'));
    try {
      const stateFile = path.join(directory, 'sms.jsonl');
      const first = await startSimulator({ SMS_SIM_STATE_FILE: stateFile });
      const to = phone();
      await post(first.url, { to, body: 'kept 111111' });
      first.child.kill('SIGKILL');
      await first.exited;
      const second = await startSimulator({ SMS_SIM_STATE_FILE: stateFile });
      expect((await inbox(second.url, to)).map((message) => message.body)).toEqual(['kept 111111']);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
