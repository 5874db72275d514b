// The drill's attacker: webhooks signed with the public development secret (which any local stack accepts)
// posted to the API's receiver, and forged or malformed bankOutcome signals sent straight through a
// Temporal client. Each forged word is recorded, so the checks can show it moved nothing.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { developmentWebhookSecret } from '../common/development';
import { workflowIdFor } from '../common/transactions';
import type { BankObject } from './bank';
import type { SignalVariant, WebhookVariant } from './plan';

export interface ForgedClaim {
  status: string;
  bankObjectId: string;
  reference: string;
  amount: string;
}

export interface ForgedWord {
  channel: 'webhook' | 'signal';
  variant: WebhookVariant | SignalVariant;
  transactionId: string;
  kind: 'ON_RAMP' | 'OFF_RAMP';
  /** The webhook-id (webhooks) or the payload's webhookId (well-formed signals); null when malformed. */
  webhookId: string | null;
  /** The claim as it would parse; null for a malformed signal. */
  claim: ForgedClaim | null;
  /** Accepted by the API (HTTP 200) or by Temporal (the signal was recorded). */
  delivered: boolean;
  answer: string;
  atMs: number;
}

export interface ForgeryTarget {
  transactionId: string;
  kind: 'ON_RAMP' | 'OFF_RAMP';
  /** The bank's object of the transaction, still pending. */
  object: BankObject;
}

export interface ForgeryContext {
  webhookUrl: string;
  temporal: Client;
  startedAt: number;
}

/** How long a forged word is retried through API or Temporal outages before it counts as not delivered. */
const deliveryWindowMs = 10_000;
const retryDelayMs = 250;

function webhookBody(target: ForgeryTarget, variant: WebhookVariant): { type: string; claim: ForgedClaim } {
  const base = { bankObjectId: target.object.id, reference: target.transactionId, amount: target.object.amount };
  if (variant === 'payout.failed') return { type: 'payout.failed', claim: { ...base, status: 'failed' } };
  if (variant === 'payment.succeeded-wrong-amount') {
    return { type: 'payment.succeeded', claim: { ...base, amount: String(BigInt(target.object.amount) + 100n), status: 'succeeded' } };
  }
  return { type: 'payment.succeeded', claim: { ...base, status: 'succeeded' } };
}

/** Posts a webhook signed with the public development secret; answers what the receiver did with it. */
export async function forgeWebhook(context: ForgeryContext, target: ForgeryTarget, variant: WebhookVariant): Promise<ForgedWord> {
  const { type, claim } = webhookBody(target, variant);
  const webhookId = `msg_drill_forged_${randomUUID()}`;
  const word: ForgedWord = { channel: 'webhook', variant, transactionId: target.transactionId, kind: target.kind, webhookId, claim, delivered: false, answer: '', atMs: Date.now() - context.startedAt };
  const deadline = Date.now() + deliveryWindowMs;
  for (;;) {
    const at = new Date();
    const body = JSON.stringify({
      type,
      timestamp: at.toISOString(),
      data: { id: claim.bankObjectId, reference: claim.reference, amount: claim.amount, currency: 'INR', status: claim.status },
    });
    try {
      const response = await fetch(context.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(developmentWebhookSecret).sign(webhookId, at, body),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      word.answer = `HTTP ${response.status} ${text.slice(0, 120)}`;
      if (response.status === 200) {
        word.delivered = true;
        word.answer = (JSON.parse(text) as { effect?: string }).effect ?? word.answer;
        return word;
      }
      if (response.status < 500) return word;
    } catch (error) {
      word.answer = String(error).slice(0, 120);
    }
    if (Date.now() > deadline) return word;
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
  }
}

function signalPayload(target: ForgeryTarget, variant: SignalVariant, webhookId: string): { payload: unknown; claim: ForgedClaim | null } {
  const ids = { bankObjectId: target.object.id, reference: target.transactionId, amount: target.object.amount };
  switch (variant) {
    case 'null':
      return { payload: null, claim: null };
    case 'wrong-types':
      return { payload: { webhookId: 42, bankObjectId: [target.object.id], reference: target.transactionId, amount: Number(target.object.amount), status: true }, claim: null };
    case 'status-pending':
      return { payload: { webhookId, ...ids, status: 'pending' }, claim: null };
    case 'success-never-given':
      return { payload: { webhookId, ...ids, status: 'succeeded' }, claim: { ...ids, status: 'succeeded' } };
    case 'payout-failed-never-given':
      return { payload: { webhookId, ...ids, status: 'failed' }, claim: { ...ids, status: 'failed' } };
  }
}

/** Sends a bankOutcome signal straight to the payment's workflow, as anyone with Temporal access could. */
export async function forgeSignal(context: ForgeryContext, target: ForgeryTarget, variant: SignalVariant): Promise<ForgedWord> {
  const forgedId = `drill-forged-${randomUUID()}`;
  const { payload, claim } = signalPayload(target, variant, forgedId);
  const word: ForgedWord = {
    channel: 'signal',
    variant,
    transactionId: target.transactionId,
    kind: target.kind,
    webhookId: claim ? forgedId : null,
    claim,
    delivered: false,
    answer: '',
    atMs: Date.now() - context.startedAt,
  };
  const handle = context.temporal.workflow.getHandle(workflowIdFor(target.kind, target.transactionId));
  const deadline = Date.now() + deliveryWindowMs;
  for (;;) {
    try {
      await handle.signal('bankOutcome', payload);
      word.delivered = true;
      word.answer = 'signalled';
      return word;
    } catch (error) {
      word.answer = String(error).slice(0, 120);
      if (error instanceof WorkflowNotFoundError) {
        word.answer = 'workflow closed';
        return word;
      }
    }
    if (Date.now() > deadline) return word;
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
  }
}
