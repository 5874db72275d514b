// createSmsSimulator: the provider's HTTP API (sms.md), the inbox pages and the control endpoint, with no
// global state. The caller listens with `app` and calls `close()` when done; main.ts does that.
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
import { z } from 'zod';
import { e164Pattern } from '../common/phone';
import type { Logger } from '../common/log';
import { bodyLengthMax, delayedMessagesMax, delayMsMax, referenceLengthMax, requestBodyBytesMax } from './config';
import { errorPage, inboxPage, pageContentSecurityPolicy } from './pages';
import { MessageStore, type Message } from './store';

export interface SmsSimulatorOptions {
  stateFile?: string | null;
  logger: Logger;
}

const rateSchema = z.number().min(0).max(1);
export const controlSettingsSchema = z.strictObject({
  /** Share (0..1) of POST /v1/messages answered 503 PROVIDER_UNAVAILABLE, storing nothing. */
  failRate: rateSchema,
  /** Share (0..1) of accepted messages (202) that never arrive. */
  dropRate: rateSchema,
  /** Accepted messages arrive this many ms later. */
  delayMs: z.int().min(0).max(delayMsMax),
});
export type ControlSettings = z.infer<typeof controlSettingsSchema>;
export const defaultControlSettings: ControlSettings = { failRate: 0, dropRate: 0, delayMs: 0 };

const sendRequestSchema = z.strictObject({
  to: z.string(),
  body: z.string().min(1).max(bodyLengthMax),
  reference: z.string().min(1).max(referenceLengthMax).optional(),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SmsSimulator {
  app: Express;
  store: MessageStore;
  close(): Promise<void>;
}

export function createSmsSimulator(options: SmsSimulatorOptions): SmsSimulator {
  const store = new MessageStore(options.stateFile ?? null);
  const delayed = new Set<NodeJS.Timeout>();
  let settings = { ...defaultControlSettings };
  const counters = { accepted: 0, failed: 0, dropped: 0 };

  const deliver = (message: Message) => {
    if (settings.delayMs === 0) return store.add(message);
    if (delayed.size >= delayedMessagesMax) throw new HttpError(503, 'PROVIDER_UNAVAILABLE', 'too many delayed messages; retry later');
    const timer = setTimeout(() => {
      delayed.delete(timer);
      store.add({ ...message, sentAt: new Date().toISOString() });
    }, settings.delayMs);
    delayed.add(timer);
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: requestBodyBytesMax }));

  app.post('/v1/messages', (request, response) => {
    const parsed = sendRequestSchema.safeParse(request.body);
    if (!parsed.success) throw new HttpError(400, 'INVALID_REQUEST', parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    const { to, body, reference } = parsed.data;
    if (!e164Pattern.test(to)) throw new HttpError(400, 'INVALID_NUMBER', 'to must be a phone number in E.164 form, e.g. +919876543210');
    if (Math.random() < settings.failRate) {
      counters.failed += 1;
      throw new HttpError(503, 'PROVIDER_UNAVAILABLE', 'the SMS provider is unavailable (failRate); retry');
    }
    const message: Message = { id: `sms_${randomUUID()}`, to, body, reference: reference ?? null, sentAt: new Date().toISOString() };
    if (Math.random() < settings.dropRate) counters.dropped += 1;
    else deliver(message);
    counters.accepted += 1;
    options.logger.debug({ id: message.id, to, reference }, 'message accepted');
    response.status(202).json({ id: message.id, to, status: 'queued' });
  });

  app.get('/v1/messages', (request, response) => {
    const to = request.query.to;
    if (typeof to !== 'string' || !e164Pattern.test(to)) throw new HttpError(400, 'INVALID_NUMBER', 'to must be a phone number in E.164 form');
    response.json({ messages: store.messagesTo(to).map(({ id, to: phone, body, sentAt }) => ({ id, to: phone, body, sentAt })) });
  });

  app.get('/inbox/:phone', (request, response) => {
    const phone = request.params.phone;
    response.setHeader('content-security-policy', pageContentSecurityPolicy);
    response.setHeader('x-content-type-options', 'nosniff');
    if (!e164Pattern.test(phone)) {
      response.status(400).type('html').send(errorPage('Not a phone number in E.164 form, e.g. /inbox/+919876543210'));
      return;
    }
    response.type('html').send(inboxPage(phone, store.messagesTo(phone)));
  });

  app.get('/v1/_control', (_request, response) => {
    response.json({ ...settings, stored: store.size, delayed: delayed.size, ...counters });
  });
  app.post('/v1/_control', (request, response) => {
    const parsed = controlSettingsSchema.partial().safeParse(request.body);
    if (!parsed.success) throw new HttpError(400, 'INVALID_REQUEST', parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    settings = { ...settings, ...parsed.data };
    response.json(settings);
  });
  app.post('/v1/_control/reset', (_request, response) => {
    settings = { ...defaultControlSettings };
    response.json(settings);
  });

  app.use((_request, response) => sendError(response, new HttpError(404, 'NOT_FOUND', 'no such route')));
  app.use(((error, _request, response, _next) => {
    if (error instanceof HttpError) return sendError(response, error);
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) options.logger.error({ err: error }, 'unexpected error');
    sendError(response, new HttpError(status, status === 500 ? 'INTERNAL' : 'INVALID_REQUEST', status === 500 ? 'unexpected error' : 'the body is not valid JSON or too large'));
  }) as ErrorRequestHandler);

  return {
    app,
    store,
    async close() {
      for (const timer of delayed) clearTimeout(timer);
      delayed.clear();
    },
  };
}

function sendError(response: Response, error: HttpError): void {
  response.status(error.status).json({ error: { code: error.code, message: error.message } });
}
