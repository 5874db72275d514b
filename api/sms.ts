// Sends text messages through the SMS provider's HTTP API (contract/sms.md; the SMS simulator plays the
// provider). One bounded call, never inside a database transaction.
import { z } from 'zod';

const acceptedSchema = z.object({ id: z.string().min(1).max(255), status: z.string() });

export class SmsDeliveryError extends Error {
  override readonly name = 'SmsDeliveryError';
}

export interface SmsSender {
  /** Resolves with the provider's message id once it accepted the message (202). */
  send(message: { to: string; body: string; reference: string }): Promise<string>;
}

export function createSmsSender(options: { baseUrl: string; timeoutMs: number }): SmsSender {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/v1/messages`;
  return {
    async send(message) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        throw new SmsDeliveryError(`SMS provider unreachable: ${(error as Error).message}`);
      }
      const text = await response.text();
      if (response.status !== 202) throw new SmsDeliveryError(`SMS provider answered ${response.status}: ${text.slice(0, 200)}`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      const parsed = acceptedSchema.safeParse(body);
      if (!parsed.success) throw new SmsDeliveryError('SMS provider answered 202 with an unexpected body');
      return parsed.data.id;
    },
  };
}
