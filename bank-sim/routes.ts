// The simulator's HTTP surface (Express 5): the Bank API (payments, payouts, refunds, the statement), the netbanking
// page and its form posts, and the simulator-only control endpoints. Handlers are thin: parse, call the bank, shape
// the answer.
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../common/log';
import type { ControlPanel } from './app';
import type { Bank } from './bank';
import { controlUpdateSchema } from './control';
import { createBankApiFaults, type BankApiFaults } from './faults';
import type { Journal } from './journal';
import {
  BankError,
  deliveryStates,
  deliveryView,
  parsePaymentRequest,
  parsePayoutRequest,
  parseRefundRequest,
  PaymentAlreadyDecidedError,
  paymentView,
  payoutView,
  referenceLengthMax,
  refundView,
  type Outcome,
  type Payment,
} from './model';
import { decisionPage, messagePage, pageContentSecurityPolicy, paymentPage, returnUrlWithOutcome } from './pages';
import type { SeededRandom } from './random';
import { buildStatement, parseStatementQuery } from './statement';
import type { BankStore } from './store';
import type { WebhookDispatcher } from './webhooks';

export const requestBodyBytesMax = 64 * 1024;
export const deliveriesPageSizeMax = 1_000;
const deliveriesPageSizeDefault = 100;
const formParametersMax = 16;

export interface HttpDependencies {
  bank: Bank;
  store: BankStore;
  control: ControlPanel;
  dispatcher: WebhookDispatcher;
  random: SeededRandom;
  publicUrl: string;
  logger: Logger;
  journal: Journal | null;
}

export function createHttpApp(dependencies: HttpDependencies): Express {
  const { control, random } = dependencies;
  // Only the Bank API (what the engine calls) fails on purpose; approve/decline are a person's clicks.
  const faults = createBankApiFaults(() => control.settings, random);
  const app = express();
  app.disable('x-powered-by');
  app.use(faults.middleware);
  app.use(express.json({ limit: requestBodyBytesMax }));
  app.use(express.urlencoded({ extended: false, limit: requestBodyBytesMax, parameterLimit: formParametersMax }));

  addBankApiRoutes(app, dependencies);
  addRefundRoutes(app, dependencies);
  addPageRoutes(app, dependencies);
  addControlRoutes(app, dependencies, faults.counters);

  app.use((_request, response) => {
    sendError(response, new BankError(404, 'NOT_FOUND', 'no such route'));
  });
  app.use(errorHandler(dependencies.logger, dependencies.publicUrl));
  return app;
}

function addBankApiRoutes(app: Express, { bank, store, publicUrl }: HttpDependencies): void {
  app.post('/v1/payments', (request, response) => {
    const { payment, created } = bank.createPayment(parsePaymentRequest(jsonBody(request)));
    response.status(created ? 201 : 200).json(paymentView(payment, publicUrl));
  });
  app.get('/v1/payments', (request, response) => {
    const payment = store.paymentByReference(referenceQuery(request));
    if (payment === undefined) throw new BankError(404, 'NOT_FOUND', 'no payment with this reference');
    response.json(paymentView(payment, publicUrl));
  });
  app.get('/v1/payments/:id', (request, response) => {
    response.json(paymentView(findPayment(store, request.params.id), publicUrl));
  });
  app.post('/v1/payments/:id/cancel', (request, response) => {
    const payment = bank.cancelPayment(request.params.id);
    response.json({ id: payment.id, status: payment.status });
  });
  app.post('/v1/payouts', (request, response) => {
    const { payout, created } = bank.createPayout(parsePayoutRequest(jsonBody(request)));
    response.status(created ? 201 : 200).json(payoutView(payout));
  });
  app.get('/v1/payouts', (request, response) => {
    const payout = store.payoutByReference(referenceQuery(request));
    if (payout === undefined) throw new BankError(404, 'NOT_FOUND', 'no payout with this reference');
    response.json(payoutView(payout));
  });
  app.get('/v1/payouts/:id', (request, response) => {
    const payout = store.payouts.get(request.params.id);
    if (payout === undefined) throw new BankError(404, 'NOT_FOUND', 'no payout with this id');
    response.json(payoutView(payout));
  });
  app.get('/v1/statement', (request, response) => {
    response.json(buildStatement(store, parseStatementQuery(request.query)));
  });
}

const refundsQuerySchema = z
  .object({
    reference: z.string().min(1).max(referenceLengthMax).optional(),
    payment: z.string().min(1).max(referenceLengthMax).optional(),
  })
  .refine((query) => (query.reference === undefined) !== (query.payment === undefined), {
    message: 'give exactly one of ?reference=R and ?payment=ID',
  });

function addRefundRoutes(app: Express, { bank, store }: HttpDependencies): void {
  app.post('/v1/refunds', (request, response) => {
    const { refund, created } = bank.createRefund(parseRefundRequest(jsonBody(request)));
    response.status(created ? 201 : 200).json(refundView(refund));
  });
  app.get('/v1/refunds', (request, response) => {
    const parsed = refundsQuerySchema.safeParse(request.query);
    if (!parsed.success) throw new BankError(400, 'BAD_REQUEST', describeIssues(parsed.error));
    if (parsed.data.reference !== undefined) {
      const refund = store.refundByReference(parsed.data.reference);
      if (refund === undefined) throw new BankError(404, 'NOT_FOUND', 'no refund with this reference');
      response.json(refundView(refund));
      return;
    }
    const payment = findPayment(store, parsed.data.payment ?? '');
    response.json({ refunds: store.refundsOfPayment(payment.id).map(refundView) });
  });
  app.get('/v1/refunds/:id', (request, response) => {
    const refund = store.refunds.get(request.params.id);
    if (refund === undefined) throw new BankError(404, 'NOT_FOUND', 'no refund with this id');
    response.json(refundView(refund));
  });
}

function addPageRoutes(app: Express, { bank, store, publicUrl }: HttpDependencies): void {
  app.get('/pay/:id', (request, response) => {
    const payment = store.payments.get(request.params.id);
    if (payment === undefined) {
      sendPage(response, 404, messagePage('Payment not found', 'This payment link is not valid.'));
      return;
    }
    sendPage(response, 200, paymentPage(payment));
  });
  const decide = (outcome: Outcome) => (request: Request<{ id: string }>, response: Response) => {
    // A browser's form post gets a page (or goes back to the merchant); a script gets JSON.
    if (!isFormPost(request)) {
      response.json(paymentView(bank.decidePayment(request.params.id, outcome), publicUrl));
      return;
    }
    let payment: Payment;
    try {
      payment = bank.decidePayment(request.params.id, outcome);
    } catch (error) {
      if (!(error instanceof BankError)) throw error;
      sendPage(response, error.httpStatus, messagePage(pageTitleFor(error), error.message));
      return;
    }
    if (payment.returnUrl !== null) {
      response.redirect(303, returnUrlWithOutcome(payment.returnUrl, payment));
      return;
    }
    sendPage(response, 200, decisionPage(payment));
  };
  app.post('/v1/payments/:id/approve', decide('succeeded'));
  app.post('/v1/payments/:id/decline', decide('failed'));
}

function addControlRoutes(app: Express, dependencies: HttpDependencies, counters: BankApiFaults['counters']): void {
  const { control, store, dispatcher, journal } = dependencies;
  app.get('/v1/_control', (_request, response) => {
    response.json(control.settings);
  });
  app.post('/v1/_control', (request, response) => {
    const parsed = controlUpdateSchema.safeParse(jsonBody(request));
    if (!parsed.success) throw new BankError(400, 'BAD_REQUEST', describeIssues(parsed.error));
    response.json(control.update(parsed.data));
  });
  app.post('/v1/_control/reset', (_request, response) => {
    response.json(control.reset());
  });
  app.get('/v1/_deliveries', (request, response) => {
    response.json({ deliveries: listDeliveries(store, request) });
  });
  app.get('/v1/_stats', (_request, response) => {
    response.json({
      payments: { total: store.payments.size, ...store.paymentCounts },
      payouts: { total: store.payouts.size, ...store.payoutCounts },
      refunds: { total: store.refunds.size, ...store.refundCounts },
      deliveries: {
        pending: store.pendingDeliveryIds.size,
        inFlight: dispatcher.inFlightCount,
        waitingForSlot: dispatcher.readyCount,
        ...dispatcher.counters,
      },
      apiErrorsInjected: counters.apiErrorsInjected,
      apiFaultsInjected: counters.apiFaultsInjected,
      journalBytes: journal?.sizeBytes ?? null,
    });
  });
  app.get('/v1/_health', (_request, response) => {
    response.json({ ok: true });
  });
}

const deliveriesQuerySchema = z.object({
  reference: z.string().max(255).optional(),
  webhookId: z.string().max(255).optional(),
  subjectId: z.string().max(255).optional(),
  state: z.enum(deliveryStates as [string, ...string[]]).optional(),
  limit: z.coerce.number().int().min(1).max(deliveriesPageSizeMax).default(deliveriesPageSizeDefault),
});

/** The most recent matching deliveries, oldest first. */
function listDeliveries(store: BankStore, request: Request) {
  const parsed = deliveriesQuerySchema.safeParse(request.query);
  if (!parsed.success) throw new BankError(400, 'BAD_REQUEST', describeIssues(parsed.error));
  const query = parsed.data;
  const matching = [];
  for (const delivery of store.deliveries.values()) {
    if (query.reference !== undefined && delivery.reference !== query.reference) continue;
    if (query.webhookId !== undefined && delivery.webhookId !== query.webhookId) continue;
    if (query.subjectId !== undefined && delivery.subjectId !== query.subjectId) continue;
    if (query.state !== undefined && delivery.state !== query.state) continue;
    matching.push(deliveryView(delivery));
  }
  return matching.slice(-query.limit);
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`)).join('; ');
}

function findPayment(store: BankStore, id: string): Payment {
  const payment = store.payments.get(id);
  if (payment === undefined) throw new BankError(404, 'NOT_FOUND', 'no payment with this id');
  return payment;
}

// By the header, not request.is(): a browser's form with no named fields posts an empty body.
function isFormPost(request: Request): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(request.get('content-type') ?? '');
}

function jsonBody(request: Request): unknown {
  if (!request.is('application/json')) {
    throw new BankError(400, 'BAD_REQUEST', 'the body must be JSON, sent with content-type: application/json');
  }
  return request.body;
}

function referenceQuery(request: Request): string {
  const reference = request.query.reference;
  if (typeof reference !== 'string' || reference.length === 0 || reference.length > referenceLengthMax) {
    throw new BankError(400, 'BAD_REQUEST', 'give exactly one reference, e.g. ?reference=R (1 to 255 characters)');
  }
  return reference;
}

function pageTitleFor(error: BankError): string {
  if (error.code === 'NOT_FOUND') return 'Payment not found';
  if (error instanceof PaymentAlreadyDecidedError && error.payment.status === 'canceled') return 'Payment canceled';
  if (error.code === 'ALREADY_DECIDED') return 'Payment already decided';
  return 'Request refused';
}

function sendPage(response: Response, status: number, html: string): void {
  response.status(status).set('content-security-policy', pageContentSecurityPolicy).type('html').send(html);
}

function sendError(response: Response, error: BankError): void {
  response.status(error.httpStatus).json(error.body());
}

function errorHandler(logger: Logger, publicUrl: string): ErrorRequestHandler {
  return (error, request, response, next) => {
    if (response.headersSent) {
      next(error);
      return;
    }
    if (error instanceof PaymentAlreadyDecidedError) {
      // The loser of a race (approve against cancel) learns the outcome that stands.
      response.status(error.httpStatus).json({ ...error.body(), payment: paymentView(error.payment, publicUrl) });
      return;
    }
    if (error instanceof BankError) {
      sendError(response, error);
      return;
    }
    // body-parser marks its own failures with `type` and a 4xx `status`.
    const type = typeof error?.type === 'string' ? error.type : '';
    if (type === 'entity.parse.failed') {
      sendError(response, new BankError(400, 'BAD_REQUEST', 'the body is not valid JSON'));
      return;
    }
    if (type === 'entity.too.large') {
      sendError(response, new BankError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${requestBodyBytesMax} bytes`));
      return;
    }
    const status = typeof error?.status === 'number' ? error.status : 500;
    if (status >= 400 && status < 500) {
      sendError(response, new BankError(status, 'BAD_REQUEST', String(error.message ?? 'bad request')));
      return;
    }
    logger.error({ err: error, method: request.method, path: request.path }, 'request failed');
    sendError(response, new BankError(500, 'INTERNAL', 'internal error'));
  };
}
