// The drill's side of the bank simulator: its control settings (a base, plus overlays the drill opens and
// closes: windows without auto-approval, outages, apiFaults), put back whenever a restarted simulator lost
// them; and the reads the checks and the drill's user need, retried through the faults the drill injects.

const callAttemptsMax = 40;
const callRetryDelayMs = 250;
const callTimeoutMs = 5_000;
/** How often the drill looks whether the simulator still has its settings (a restart resets them). */
const controlCheckIntervalMs = 1_000;

export interface BankAnswer {
  status: number;
  body: any;
}

/** One call to the bank; answers every status but 5xx and 429, which (like a refused connection) are retried. */
export async function bankRequest(bankUrl: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<BankAnswer> {
  let lastProblem = '';
  for (let attempt = 1; attempt <= callAttemptsMax; attempt++) {
    try {
      const response = await fetch(new URL(path, bankUrl), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(callTimeoutMs),
      });
      const text = await response.text();
      if (response.status < 500 && response.status !== 429) return { status: response.status, body: text ? JSON.parse(text) : null };
      lastProblem = `HTTP ${response.status}`;
    } catch (error) {
      lastProblem = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, callRetryDelayMs));
  }
  throw new Error(`bank ${method} ${path}: no answer after ${callAttemptsMax} attempts (${lastProblem})`);
}

export interface BankObject {
  id: string;
  reference: string;
  amount: string;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
  decidedAt: string | null;
}

export interface BankRefund extends BankObject {
  payment: string;
}

/** A payment or payout by reference (lookups by reference are never faulted on purpose), or null. */
export async function bankObjectByReference(bankUrl: string, kind: 'payments' | 'payouts', reference: string): Promise<BankObject | null> {
  const answer = await bankRequest(bankUrl, 'GET', `/v1/${kind}?reference=${encodeURIComponent(reference)}`);
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`bank GET ${kind}?reference=${reference}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as BankObject;
}

export async function refundsOfPayment(bankUrl: string, paymentId: string): Promise<BankRefund[]> {
  const answer = await bankRequest(bankUrl, 'GET', `/v1/refunds?payment=${encodeURIComponent(paymentId)}`);
  if (answer.status !== 200) throw new Error(`bank GET refunds?payment=${paymentId}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return (answer.body as { refunds: BankRefund[] }).refunds;
}

export interface Statement {
  payments: BankObject[];
  payouts: BankObject[];
  refunds: BankRefund[];
}

/** Every succeeded payment, payout and refund decided in [from, to). */
export async function bankStatement(bankUrl: string, from: Date, to: Date): Promise<Statement> {
  const query = `from=${encodeURIComponent(from.toISOString().replace(/\.\d+Z$/, 'Z'))}&to=${encodeURIComponent(to.toISOString().replace(/\.\d+Z$/, 'Z'))}`;
  const answer = await bankRequest(bankUrl, 'GET', `/v1/statement?${query}`);
  if (answer.status !== 200) throw new Error(`bank statement: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as Statement;
}

export type ApiFaultRates = { '408': number; '429': number; '404': number };
const noApiFaults: ApiFaultRates = { '408': 0, '429': 0, '404': 0 };

/**
 * The simulator's settings as the drill wants them: a base, and overlays held by whoever opened them
 * (counted, so overlapping holders never close each other's window). Put back when a restart lost them.
 */
export class BankControl {
  private base: Record<string, unknown>;
  private manualHolders = 0;
  private outageHolders = 0;
  private apiFaults: ApiFaultRates = noApiFaults;
  private timer: NodeJS.Timeout | null = null;
  private applying: Promise<void> = Promise.resolve();
  /** The simulator's apiFaultsInjected counters, summed over its restarts. */
  readonly faultsInjected: ApiFaultRates = { ...noApiFaults };
  private lastCounters: ApiFaultRates = { ...noApiFaults };

  constructor(
    private readonly bankUrl: string,
    base: Record<string, unknown>,
    /** Payout settlement while a manual window is open (so a forged word finds its payout still pending). */
    private readonly manualPayoutSettleMs: number,
  ) {
    this.base = base;
  }

  desired(): Record<string, unknown> {
    const manual = this.manualHolders > 0;
    return {
      ...this.base,
      ...(manual ? { autoApprovePaymentsMs: null, payoutSettleMs: this.manualPayoutSettleMs } : {}),
      ...(this.outageHolders > 0 ? { apiErrorRate: 1 } : {}),
      apiFaults: this.apiFaults,
    };
  }

  async start(): Promise<void> {
    await this.apply();
    this.timer = setInterval(() => void this.check(), controlCheckIntervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** New base settings (e.g. a calm bank once the workload is over). */
  async setBase(update: Record<string, unknown>): Promise<void> {
    this.base = { ...this.base, ...update };
    await this.apply();
  }

  /** New payments wait for a person, payouts settle slower, until the returned function is called. */
  async openManualWindow(): Promise<() => Promise<void>> {
    this.manualHolders++;
    await this.apply();
    return this.closer(() => this.manualHolders--);
  }

  /** Every Bank API call of the engine answers 503 until the returned function is called. */
  async openOutage(): Promise<() => Promise<void>> {
    this.outageHolders++;
    await this.apply();
    return this.closer(() => this.outageHolders--);
  }

  async setApiFaults(rates: ApiFaultRates | null): Promise<void> {
    this.apiFaults = rates ?? noApiFaults;
    await this.apply();
  }

  private closer(release: () => void): () => Promise<void> {
    let closed = false;
    return async () => {
      if (closed) return;
      closed = true;
      release();
      await this.apply();
    };
  }

  /** Posts the desired settings, one post at a time, retried while the simulator is down. */
  private apply(): Promise<void> {
    const next = this.applying
      .catch(() => {})
      .then(async () => {
        // Down for longer than bankRequest retries: the periodic check puts the settings back later.
        const answer = await bankRequest(this.bankUrl, 'POST', '/v1/_control', this.desired()).catch(() => null);
        if (answer && answer.status !== 200) throw new Error(`bank control refused: ${JSON.stringify(answer.body)}`);
      });
    this.applying = next;
    return next;
  }

  /** A restarted simulator starts from its defaults: put the drill's settings back, and sum its fault counters. */
  private async check(): Promise<void> {
    try {
      const response = await fetch(new URL('/v1/_stats', this.bankUrl), { signal: AbortSignal.timeout(callTimeoutMs) });
      const counters = ((await response.json()) as { apiFaultsInjected: ApiFaultRates }).apiFaultsInjected;
      for (const status of ['408', '429', '404'] as const) {
        const delta = counters[status] >= this.lastCounters[status] ? counters[status] - this.lastCounters[status] : counters[status];
        this.faultsInjected[status] += delta;
      }
      this.lastCounters = { ...counters };
      const settings = (await (await fetch(new URL('/v1/_control', this.bankUrl), { signal: AbortSignal.timeout(callTimeoutMs) })).json()) as Record<string, unknown>;
      const desired = this.desired();
      if (Object.entries(desired).some(([field, value]) => JSON.stringify(settings[field]) !== JSON.stringify(value))) await this.apply();
    } catch {
      // The simulator is down: the next check puts the settings back once it is up.
    }
  }
}
