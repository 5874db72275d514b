// The bank webhook receiver (bank.md): verify the Standard Webhooks signature with any current secret,
// record each webhook-id once, and hand the outcome to the payment's workflow as a signal. It answers
// 2xx only once Temporal has accepted the signal (or there is nothing left to do), so the bank retries
// anything that did not land.
import { WorkflowNotFoundError } from '@temporalio/client';
import express from 'express';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import type { BankOutcomeSignal } from '../common/bank';
import { ensureReconciliation } from '../common/payment-workflows';
import { workflowIdFor } from '../common/transactions';
import { webhookVerificationFailures } from '../common/metrics';
import { recordSecurityEvent } from '../db/security-events';
import { findTransaction } from '../db/transactions';
import type { ApiDependencies } from './context';

const webhookBodyBytesMax = 64 * 1024;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The longest webhook-id the receiver can record (bank_webhooks.webhook_id). */
const webhookIdLengthMax = 255;
/** Forged or stale webhooks recorded in the security log per API process per minute; the rest are only logged. */
const forgeriesRecordedPerMinuteMax = 10;
const refundReferencePrefix = 'refund-';

const webhookBodySchema = z.object({
  type: z.enum(['payment.succeeded', 'payment.failed', 'payout.succeeded', 'payout.failed', 'refund.succeeded', 'refund.failed']),
  timestamp: z.string().max(64),
  data: z.object({
    id: z.string().min(1).max(255),
    reference: z.string().min(1).max(255),
    amount: z.string().regex(/^[1-9][0-9]{0,14}$/),
    currency: z.literal('INR'),
    status: z.enum(['succeeded', 'failed']),
    payment: z.string().min(1).max(255).optional(),
  }),
});
type WebhookBody = z.infer<typeof webhookBodySchema>;

type Effect = 'signalled' | 'reconciling' | 'unknown_reference' | 'kind_mismatch';

function reject(response: express.Response, status: number, code: string, message: string): void {
  response.status(status).json({ error: { code, message } });
}

export function bankWebhookRouter(deps: ApiDependencies): express.Router {
  const verifiers = deps.config.BANK_WEBHOOK_SECRETS.map((secret) => new Webhook(secret));
  const forgeries = { minute: 0, recorded: 0 };
  const recordForgery = (request: express.Request, webhookId: string) => {
    const minute = Math.floor(Date.now() / 60_000);
    if (forgeries.minute !== minute) Object.assign(forgeries, { minute, recorded: 0 });
    if (++forgeries.recorded > forgeriesRecordedPerMinuteMax) return;
    recordSecurityEvent(deps.pool, {
      kind: 'bank.webhook_rejected',
      outcome: 'denied',
      actor: 'bank-webhook',
      clientAddress: request.ip ?? null,
      subject: webhookId.slice(0, webhookIdLengthMax) || null,
      details: { reason: 'missing, stale or invalid signature' },
    }).catch((error: unknown) => deps.log.warn({ err: error }, 'could not record a rejected webhook'));
  };
  const router = express.Router();
  router.post(
    '/webhooks/bank',
    express.raw({ type: () => true, limit: webhookBodyBytesMax }),
    async (request, response) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const headers = {
        'webhook-id': request.get('webhook-id') ?? '',
        'webhook-timestamp': request.get('webhook-timestamp') ?? '',
        'webhook-signature': request.get('webhook-signature') ?? '',
      };
      // The library checks the signature and that the timestamp is within 5 minutes of now.
      const verified = verifiers.some((verifier) => {
        try {
          verifier.verify(body, headers, { jsonParse: false });
          return true;
        } catch {
          return false;
        }
      });
      if (!verified) {
        webhookVerificationFailures.inc();
        recordForgery(request, headers['webhook-id']);
        return reject(response, 401, 'INVALID_SIGNATURE', 'missing, stale or invalid webhook signature');
      }
      if (headers['webhook-id'].length > webhookIdLengthMax) {
        return reject(response, 400, 'WEBHOOK_ID_TOO_LONG', `webhook-id is longer than ${webhookIdLengthMax} characters`);
      }

      let event: WebhookBody;
      try {
        event = webhookBodySchema.parse(JSON.parse(body.toString('utf8')));
      } catch {
        return reject(response, 400, 'MALFORMED_BODY', 'the body is not a bank event of bank.md');
      }
      const expectedStatus = event.type.endsWith('.succeeded') ? 'succeeded' : 'failed';
      if (event.data.status !== expectedStatus) return reject(response, 400, 'MALFORMED_BODY', 'type and status disagree');

      try {
        const effect = await handle(deps, headers['webhook-id'], event);
        response.status(200).json({ received: true, effect });
      } catch (error) {
        deps.log.warn({ err: error, webhookId: headers['webhook-id'] }, 'webhook not handed over; the bank will retry');
        reject(response, 503, 'TRY_AGAIN', 'the outcome could not be recorded yet');
      }
    },
  );
  // Body-parser errors (too large, aborted) keep the same error shape.
  router.use(((error, _request, response, _next) => {
    const status = typeof error?.status === 'number' && error.status < 500 ? error.status : 400;
    reject(response, status, status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', 'the request body could not be read');
  }) as express.ErrorRequestHandler);
  return router;
}

async function handle(deps: ApiDependencies, webhookId: string, event: WebhookBody): Promise<Effect | 'duplicate'> {
  const { rows } = await deps.pool.query<{ handled_at: Date | null; effect: Effect | null }>(
    `WITH inserted AS (
       INSERT INTO bank_webhooks (webhook_id, event_type, reference, bank_object_id, status, payload)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id) DO NOTHING RETURNING handled_at, effect)
     SELECT handled_at, effect FROM inserted UNION ALL SELECT handled_at, effect FROM bank_webhooks WHERE webhook_id = $1`,
    [webhookId, event.type, event.data.reference, event.data.id, event.data.status, JSON.stringify(event)],
  );
  if (rows[0]?.handled_at) return 'duplicate';

  const effect = await deliver(deps, webhookId, event);
  await deps.pool.query(`UPDATE bank_webhooks SET handled_at = now(), effect = $2 WHERE webhook_id = $1`, [webhookId, effect]);
  const log = effect === 'signalled' ? deps.log.info.bind(deps.log) : deps.log.warn.bind(deps.log);
  log({ webhookId, type: event.type, transactionId: event.data.reference, effect }, 'bank webhook handled');
  return effect;
}

/**
 * Hands the bank's word to the workflow that acts on it, as a prompt (the workflow asks the bank's
 * status API before anything moves): the payment's own workflow while it runs, else a reconciliation
 * (signal-with-start), which also takes every refund's word.
 */
async function deliver(deps: ApiDependencies, webhookId: string, event: WebhookBody): Promise<Effect> {
  const isRefund = event.type.startsWith('refund.');
  const reference = isRefund && event.data.reference.startsWith(refundReferencePrefix) ? event.data.reference.slice(refundReferencePrefix.length) : event.data.reference;
  const transaction = uuidPattern.test(reference) ? await findTransaction(deps.pool, reference) : null;
  if (!transaction) return 'unknown_reference';
  const expectedKind = event.type.startsWith('payout.') ? 'OFF_RAMP' : 'ON_RAMP';
  if (transaction.kind !== expectedKind) return 'kind_mismatch';
  const claim: BankOutcomeSignal = {
    webhookId,
    kind: isRefund ? 'refund' : event.type.startsWith('payment.') ? 'payment' : 'payout',
    source: 'webhook',
    bankObjectId: event.data.id,
    reference: event.data.reference,
    amount: event.data.amount,
    status: event.data.status,
  };
  const target = { client: deps.temporal, taskQueue: deps.config.TEMPORAL_TASK_QUEUE };
  if (!isRefund) {
    try {
      await deps.temporal.workflow.getHandle(workflowIdFor(transaction.kind, transaction.id)).signal('bankOutcome', claim);
      return 'signalled';
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  // No live workflow for it (finished, terminated, or a refund): a reconciliation looks at the bank.
  await ensureReconciliation(target, transaction, isRefund ? 'refund webhook' : 'webhook for a closed workflow', claim);
  return 'reconciling';
}
