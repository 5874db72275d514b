// Test helpers, usable by any test that needs the bank: starts the real simulator as a child process (port 0,
// URL read from its log line) and a real webhook receiver that checks signatures with the standardwebhooks library.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Webhook } from 'standardwebhooks';

export const repositoryRoot = resolve(__dirname, '..');
const startTimeoutMs = 20_000;
const waitPollMs = 10;
const receivedBodyBytesMax = 64 * 1024;

export interface SimulatorProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote so far, stdout then stderr lines interleaved as they came. */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then waits for the exit: a crash, with no chance to flush anything. */
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `node --import tsx bank-sim/main.ts` by default: one process, so SIGKILL hits the simulator itself.
 * (`node_modules/.bin/tsx` runs the script in a second process, which a SIGKILL of the first would orphan.)
 */
export function spawnSimulator(environment: Record<string, string>, launcher: 'node' | 'tsx' = 'node'): ChildProcess {
  const [command, args] =
    launcher === 'node'
      ? [process.execPath, ['--import', 'tsx', 'bank-sim/main.ts']]
      : [resolve(repositoryRoot, 'node_modules/.bin/tsx'), ['bank-sim/main.ts']];
  return spawn(command, args, {
    cwd: repositoryRoot,
    env: { ...process.env, BANK_SIM_PORT: '0', LOG_LEVEL: 'info', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function startSimulatorProcess(
  environment: Record<string, string> = {},
  launcher: 'node' | 'tsx' = 'node',
): Promise<SimulatorProcess> {
  const child = spawnSimulator(environment, launcher);
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const url = await new Promise<string>((resolveUrl, rejectUrl) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectUrl(new Error(`bank simulator did not start within ${startTimeoutMs} ms:\n${output.join('\n')}`));
    }, startTimeoutMs);
    collectLines(child, output, (line) => {
      const url = listeningUrlFrom(line);
      if (url === null) return;
      clearTimeout(timer);
      resolveUrl(url);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rejectUrl(new Error(`bank simulator exited (${code ?? signal}) before listening:\n${output.join('\n')}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { url, child, output, exited, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

function collectLines(child: ChildProcess, output: string[], onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        onLine(line);
      }
    });
  }
}

function listeningUrlFrom(line: string): string | null {
  if (!line.includes('"msg":"bank simulator listening"')) return null;
  const parsed = JSON.parse(line) as { url?: unknown };
  return typeof parsed.url === 'string' ? parsed.url : null;
}

export interface WebhookEventBody {
  type: string;
  timestamp: string;
  data: Record<string, string>;
}

export interface ReceivedWebhook {
  webhookId: string;
  timestampSeconds: number;
  signature: string;
  body: string;
  event: WebhookEventBody;
  /** For each of the receiver's secrets, whether Webhook.verify accepted the request with that secret alone. */
  verifiedWith: boolean[];
  receivedAtMs: number;
  answeredStatus: number;
}

export interface WebhookReceiver {
  url: string;
  /** Every signed request, in arrival order, including those answered with an error on purpose. */
  received: ReceivedWebhook[];
  /** Requests no secret verified (answered 401). */
  rejected: { headers: IncomingMessage['headers']; body: string; reason: string }[];
  /** Decides the answer to each verified request; 204 unless a test says otherwise. */
  answer: (webhook: Omit<ReceivedWebhook, 'answeredStatus'>) => number;
  forReference(reference: string): ReceivedWebhook[];
  /** Waits until `count` webhooks for the reference have arrived; returns them. */
  waitForReference(reference: string, count?: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/** A real HTTP receiver on port 0 that verifies with any of `secrets` (rotation) and records what came. */
export async function startWebhookReceiver(secrets: readonly string[]): Promise<WebhookReceiver> {
  const verifiers = secrets.map((secret) => new Webhook(secret));
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    rejected: [],
    answer: () => 204,
    forReference: (reference) => receiver.received.filter((webhook) => webhook.event.data.reference === reference),
    waitForReference: async (reference, count = 1, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (receiver.forReference(reference).length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} webhook(s) for ${reference}, got ${receiver.forReference(reference).length}`);
        }
        await sleep(waitPollMs);
      }
      return receiver.forReference(reference);
    },
    close: async () => {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
    },
  };
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const verifiedWith = verifiers.map((verifier) => verifies(verifier, body, headers));
      if (!verifiedWith.some(Boolean)) {
        receiver.rejected.push({ headers: request.headers, body, reason: 'no secret verified the signature' });
        response.writeHead(401).end();
        return;
      }
      const webhook = {
        webhookId: headers['webhook-id'],
        timestampSeconds: Number(headers['webhook-timestamp']),
        signature: headers['webhook-signature'],
        body,
        event: JSON.parse(body) as WebhookEventBody,
        verifiedWith,
        receivedAtMs: Date.now(),
      };
      const status = receiver.answer(webhook);
      receiver.received.push({ ...webhook, answeredStatus: status });
      response.writeHead(status).end();
    }, (error: Error) => {
      receiver.rejected.push({ headers: request.headers, body: '', reason: error.message });
      response.writeHead(413).end();
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', () => resolveListen()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/bank`;
  return receiver;
}

function verifies(verifier: Webhook, body: string, headers: Record<string, string>): boolean {
  try {
    verifier.verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > receivedBodyBytesMax) throw new Error('webhook body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function sleep(durationMs: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, durationMs));
}

export interface JsonAnswer {
  status: number;
  headers: Headers;
  // Tests read answers field by field and compare with expect(); a schema per answer would add nothing here.
  body: any;
}

/** One HTTP call with a JSON body (or none); the answer's body parsed when it is JSON. */
export async function callJson(baseUrl: string, method: string, path: string, body?: unknown): Promise<JsonAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('application/json');
  return { status: response.status, headers: response.headers, body: isJson ? JSON.parse(text) : text };
}
