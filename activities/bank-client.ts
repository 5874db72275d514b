// The engine's client of a bank's HTTP API (contract/bank.md). Every create is idempotent on
// `reference` (our id), so a retried call returns the bank's existing object instead of making another.
// Answers are classified: 408, 429, 5xx, timeouts and connection failures may go away (retryable);
// any other 4xx is final, but a create that was refused is looked up by reference first, because a
// bank may have made the object before refusing or losing the answer.
import { ApplicationFailure } from '@temporalio/common';
import { bankErrorTypes } from '../common/bank';

export type BankObjectStatus = 'pending' | 'succeeded' | 'failed' | 'canceled';

export interface BankPayment {
  id: string;
  reference: string;
  amount: string;
  currency: string;
  bank?: string;
  status: BankObjectStatus;
  redirectUrl?: string;
}

export interface BankPayout {
  id: string;
  reference: string;
  amount: string;
  currency: string;
  bank?: string;
  status: BankObjectStatus;
}

export interface BankRefund {
  id: string;
  payment: string;
  reference: string;
  amount: string;
  status: BankObjectStatus;
}

export interface StatementItem {
  id: string;
  reference: string;
  amount: string;
  currency: string;
  decidedAt: string;
  payment?: string;
}

export interface BankStatement {
  payments: StatementItem[];
  payouts: StatementItem[];
  refunds: StatementItem[];
}

export interface BankClientOptions {
  baseUrl: string;
  timeoutMs: number;
}

/**
 * A bank answer that may go away (408, 429, 5xx) or no answer at all: retry. Ambiguous when the bank
 * may have carried the request out (408, a timeout, a connection lost mid-request); not when it never
 * took it (503 or 429 before doing anything, a connection refused).
 */
export class BankUnavailableError extends Error {
  override readonly name = 'BankUnavailableError';
  constructor(
    message: string,
    readonly ambiguous: boolean,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  body: unknown;
}

const retryableStatuses = new Set([408, 425, 429]);

export class BankClient {
  constructor(private readonly options: BankClientOptions) {}

  createPayment(request: { reference: string; amount: string; bank: string; returnUrl?: string }): Promise<BankPayment> {
    return this.create('/v1/payments', { ...request, currency: 'INR' }, () => this.byReference<BankPayment>('/v1/payments', request.reference));
  }

  /** The payment by id, or by reference when the id is not (yet) known there; null when the bank has neither. */
  findPayment(request: { id: string | null; reference: string }): Promise<BankPayment | null> {
    return this.find<BankPayment>('/v1/payments', request);
  }

  /** Cancels a pending payment; answers the payment's status after it (canceled, or the outcome that won). */
  async cancelPayment(id: string): Promise<BankObjectStatus> {
    const answer = await this.call('POST', `/v1/payments/${encodeURIComponent(id)}/cancel`);
    if (answer.status === 200) return statusOf(answer.body);
    if (answer.status === 409) return statusOf((answer.body as { payment?: unknown }).payment);
    throw rejected('POST', 'cancel', answer);
  }

  createPayout(request: { reference: string; amount: string; bank: string; bankAccount: string }): Promise<BankPayout> {
    return this.create('/v1/payouts', { ...request, currency: 'INR' }, () => this.byReference<BankPayout>('/v1/payouts', request.reference));
  }

  findPayout(request: { id: string | null; reference: string }): Promise<BankPayout | null> {
    return this.find<BankPayout>('/v1/payouts', request);
  }

  createRefund(request: { payment: string; amount: string; reference: string }): Promise<BankRefund> {
    return this.create('/v1/refunds', request, () => this.byReference<BankRefund>('/v1/refunds', request.reference));
  }

  findRefund(reference: string): Promise<BankRefund | null> {
    return this.byReference<BankRefund>('/v1/refunds', reference);
  }

  /** The bank's statement: every succeeded payment, payout and refund decided in [from, to). */
  async statement(from: Date, to: Date): Promise<BankStatement> {
    const answer = await this.call('GET', `/v1/statement?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
    if (answer.status !== 200) throw rejected('GET', '/v1/statement', answer);
    return answer.body as BankStatement;
  }

  private async create<T>(path: string, body: unknown, lookUp: () => Promise<T | null>): Promise<T> {
    const answer = await this.call('POST', path, body);
    if (answer.status === 200 || answer.status === 201) return answer.body as T;
    const existing = await lookUp();
    if (existing) return existing;
    throw rejected('POST', path, answer);
  }

  private async find<T>(path: string, request: { id: string | null; reference: string }): Promise<T | null> {
    if (request.id) {
      const answer = await this.call('GET', `${path}/${encodeURIComponent(request.id)}`);
      if (answer.status === 200) return answer.body as T;
      if (answer.status !== 404) throw rejected('GET', path, answer);
    }
    return this.byReference<T>(path, request.reference);
  }

  private async byReference<T>(path: string, reference: string): Promise<T | null> {
    const answer = await this.call('GET', `${path}?reference=${encodeURIComponent(reference)}`);
    if (answer.status === 200) return answer.body as T;
    if (answer.status === 404) return null;
    throw rejected('GET', path, answer);
  }

  /** One HTTP call; throws BankUnavailableError for anything that may go away, answers the rest. */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(new URL(path, this.options.baseUrl), {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
      throw new BankUnavailableError(`bank unreachable for ${method} ${path}: ${(error as Error).message}`, !refused);
    }
    if (response.status >= 500 || retryableStatuses.has(response.status)) {
      // A 503 or 429 is answered before the bank does anything; a 408 or a 504 may hide a done request.
      const ambiguous = response.status === 408 || response.status === 504;
      throw new BankUnavailableError(`bank answered ${response.status} to ${method} ${path}`, ambiguous);
    }
    try {
      return { status: response.status, body: text ? JSON.parse(text) : null };
    } catch {
      throw new BankUnavailableError(`bank answered ${response.status} with a body that is not JSON to ${method} ${path}`, true);
    }
  }
}

function statusOf(body: unknown): BankObjectStatus {
  const status = (body as { status?: unknown } | null)?.status;
  if (status === 'pending' || status === 'succeeded' || status === 'failed' || status === 'canceled') return status;
  throw new BankUnavailableError(`bank answered an unknown status ${JSON.stringify(status)?.slice(0, 40)}`, true);
}

function rejected(method: string, path: string, answer: Answer): ApplicationFailure {
  const error = (answer.body as { error?: { code?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code.slice(0, 64) : 'UNKNOWN';
  return ApplicationFailure.create({
    type: bankErrorTypes.rejected,
    nonRetryable: true,
    message: `bank refused ${method} ${path}: ${answer.status} ${code}`,
    details: [{ status: answer.status, code }],
  });
}
