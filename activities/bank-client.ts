// The engine's client of a bank's HTTP API (bank.md). Every create is idempotent on `reference` (our
// transaction id), so a retried call returns the bank's existing object instead of making another.
import { ApplicationFailure } from '@temporalio/common';

export type BankObjectStatus = 'pending' | 'succeeded' | 'failed';

export interface BankPayment {
  id: string;
  reference: string;
  amount: string;
  status: BankObjectStatus;
  redirectUrl?: string;
}

export interface BankPayout {
  id: string;
  reference: string;
  amount: string;
  status: BankObjectStatus;
}

export interface BankClientOptions {
  baseUrl: string;
  timeoutMs: number;
}

/** A bank's 4xx answer: retrying the same request cannot help. */
export const bankRejectedType = 'BANK_REJECTED';

export class BankClient {
  constructor(private readonly options: BankClientOptions) {}

  createPayment(request: { reference: string; amount: string; bank: string; returnUrl?: string }): Promise<BankPayment> {
    return this.call('POST', '/v1/payments', { ...request, currency: 'INR' });
  }

  getPayment(id: string): Promise<BankPayment> {
    return this.call('GET', `/v1/payments/${encodeURIComponent(id)}`);
  }

  createPayout(request: { reference: string; amount: string; bank: string; bankAccount: string }): Promise<BankPayout> {
    return this.call('POST', '/v1/payouts', { ...request, currency: 'INR' });
  }

  getPayout(id: string): Promise<BankPayout> {
    return this.call('GET', `/v1/payouts/${encodeURIComponent(id)}`);
  }

  /**
   * Throws a retryable Error on 5xx, timeouts and connection failures (Temporal retries the activity)
   * and a non-retryable ApplicationFailure on 4xx.
   */
  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(path, this.options.baseUrl), {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    const text = await response.text();
    if (response.status >= 500) throw new Error(`bank answered ${response.status} to ${method} ${path}`);
    if (response.status >= 400) {
      const code = safeErrorCode(text);
      throw ApplicationFailure.create({
        type: bankRejectedType,
        nonRetryable: true,
        message: `bank rejected ${method} ${path}: ${response.status} ${code}`,
        details: [{ status: response.status, code }],
      });
    }
    return JSON.parse(text) as T;
  }
}

function safeErrorCode(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown } };
    return typeof parsed.error?.code === 'string' ? parsed.error.code.slice(0, 64) : 'UNKNOWN';
  } catch {
    return 'UNKNOWN';
  }
}
