// A drill client: one user who sends payments through the public API, retries with the same
// idempotency key whatever happens to the servers, keeps its own record of what was accepted (and of
// what it approved at its bank), and follows its transactions over graphql-ws, resuming from its last
// cursor after every disconnect.
import { createClient, type Client } from 'graphql-ws';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { transactionFields, type TestUser } from '../test/client';

export type PaymentKind = 'TRANSFER' | 'ON_RAMP' | 'OFF_RAMP';

export interface PaymentRequest {
  kind: PaymentKind;
  amount: string;
  idempotencyKey: string;
  toPhone?: string;
  bank?: string;
  bankAccount?: string;
}

export interface AcceptedPayment {
  id: string;
  request: PaymentRequest;
  /** The user who sent the request (the sender of a TRANSFER). */
  userId: string;
  counterpartyUserId: string | null;
}

/**
 * What the client did at its bank about one of its on-ramps (the drill's user on the netbanking API), and
 * what the bank answered: the client's model of its money at the bank.
 */
export interface BankAction {
  transactionId: string;
  paymentId: string;
  /** Why: a late-approval plan, or the approval that follows a forged word. */
  plan: string;
  /** From the start of the workload. */
  atMs: number;
  /** When it approved against the on-ramp's deadline (negative: before it). */
  deadlineOffsetMs: number;
  /** The on-ramp's status as the client last read it before approving (null: not read). */
  statusBefore: string | null;
  /** 'approved': the bank took the money; 'refused': the payment was decided already (paymentStatus says how). */
  answer: 'approved' | 'refused';
  paymentStatus: string;
}

export interface RequestOutcome {
  accepted: AcceptedPayment | null;
  /** A business refusal (BAD_USER_INPUT and the like): nothing was created. */
  refusedCode: string | null;
  attempts: number;
}

const retryDelayMsMax = 2_000;
/** How long a client keeps retrying one request through outages before the drill counts it as lost. */
const retryWindowMs = 180_000;
const retriedCodes = new Set(['INTERNAL_SERVER_ERROR', 'RATE_LIMITED']);

const mutations: Record<PaymentKind, string> = {
  TRANSFER: `mutation($input: SendMoneyInput!) { payment: sendMoney(input: $input) { ${transactionFields} } }`,
  ON_RAMP: `mutation($input: AddMoneyInput!) { payment: addMoney(input: $input) { ${transactionFields} } }`,
  OFF_RAMP: `mutation($input: WithdrawInput!) { payment: withdraw(input: $input) { ${transactionFields} } }`,
};

function inputOf(request: PaymentRequest): Record<string, string> {
  const { kind: _kind, ...input } = request;
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Record<string, string>;
}

export class DrillClient {
  readonly accepted = new Map<string, AcceptedPayment>();
  /** Final statuses received on the subscription, per transaction id (each must arrive exactly once). */
  readonly finalEvents = new Map<string, string[]>();
  /** The eventCursor of each of those events (the same cursor twice: one event delivered twice). */
  readonly finalCursors = new Map<string, string[]>();
  /** Ids a repeated idempotency key answered with, when they differ from the first answer. */
  readonly idempotencyViolations: string[] = [];
  /** The client's approvals at its bank, by transaction id. */
  readonly bankActions = new Map<string, BankAction>();
  private cursor: string | null = null;
  private ws: Client | null = null;
  private closed = false;
  reconnects = 0;

  constructor(
    readonly user: TestUser,
    readonly graphqlUrl: string,
    private readonly phoneToUserId: Map<string, string>,
    /** Where the subscription goes (the cluster test follows through another API process than it sends to). */
    readonly subscriptionUrl: string = graphqlUrl,
  ) {}

  newRequest(kind: PaymentKind, amount: string, extra: Partial<PaymentRequest>): PaymentRequest {
    return { kind, amount, idempotencyKey: randomUUID(), ...extra };
  }

  /** Sends a request until it gets an answer that is not an outage; the same key on every attempt. */
  async send(request: PaymentRequest): Promise<RequestOutcome> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const answer = await this.post(request).catch((error: unknown) => ({ transportError: error }) as const);
      if (!('transportError' in answer)) {
        const code = answer.errors?.[0]?.extensions?.code;
        const payment = answer.data?.payment;
        if (payment) return { accepted: this.record(request, payment.id), refusedCode: null, attempts: attempt };
        if (code && !retriedCodes.has(code)) return { accepted: null, refusedCode: code, attempts: attempt };
      }
      if (Date.now() - started > retryWindowMs) throw new Error(`request ${request.idempotencyKey} got no answer in ${retryWindowMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** Math.min(attempt, 5), retryDelayMsMax)));
    }
  }

  private async post(request: PaymentRequest): Promise<{ data?: { payment?: { id: string } }; errors?: Array<{ extensions?: { code?: string } }> }> {
    const response = await fetch(this.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.user.token}` },
      body: JSON.stringify({ query: mutations[request.kind], variables: { input: inputOf(request) } }),
      signal: AbortSignal.timeout(30_000),
    });
    if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as never;
  }

  private record(request: PaymentRequest, id: string): AcceptedPayment {
    const earlier = [...this.accepted.values()].find((payment) => payment.request.idempotencyKey === request.idempotencyKey);
    if (earlier && earlier.id !== id) this.idempotencyViolations.push(`${request.idempotencyKey}: ${earlier.id} then ${id}`);
    const accepted: AcceptedPayment = {
      id,
      request,
      userId: this.user.id,
      counterpartyUserId: request.toPhone ? this.phoneToUserId.get(request.toPhone) ?? null : null,
    };
    if (!earlier) this.accepted.set(id, accepted);
    return earlier ?? accepted;
  }

  /** Follows transactionUpdated; after any disconnect, reconnects and resumes from the last cursor. */
  follow(): void {
    if (this.closed) return;
    const ws = createClient({
      url: this.subscriptionUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.user.token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
    });
    this.ws = ws;
    let resumed = false;
    const resume = () => {
      if (resumed || this.closed) return;
      resumed = true;
      this.reconnects += 1;
      void ws.dispose();
      setTimeout(() => this.follow(), 500);
    };
    ws.subscribe<{ transactionUpdated: { eventCursor: string; transaction: { id: string; status: string } } }>(
      {
        query: `subscription($after: String) { transactionUpdated(after: $after) { eventCursor transaction { id status } } }`,
        variables: { after: this.cursor },
      },
      {
        next: ({ data }) => {
          if (!data) return;
          this.cursor = data.transactionUpdated.eventCursor;
          const { id, status } = data.transactionUpdated.transaction;
          if (status === 'COMPLETED' || status === 'FAILED' || status === 'EXPIRED') {
            this.finalEvents.set(id, [...(this.finalEvents.get(id) ?? []), status]);
            this.finalCursors.set(id, [...(this.finalCursors.get(id) ?? []), data.transactionUpdated.eventCursor]);
          }
        },
        error: resume,
        complete: resume,
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ws?.dispose();
  }

  /** The wallet's available balance as the API reports it; -1 when it cannot be read (an outage). */
  async available(): Promise<bigint> {
    try {
      const response = await fetch(this.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.user.token}` },
        body: JSON.stringify({ query: '{ viewer { wallet { available } } }' }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await response.json()) as { data?: { viewer?: { wallet?: { available: string } } } };
      return BigInt(body.data?.viewer?.wallet?.available ?? -1);
    } catch {
      return -1n;
    }
  }

  /** The client's view of a transaction's outcome, asked of the API (with retries through outages). */
  async fetchStatus(id: string): Promise<{ status: string; amount: string; failureCode: string | null } | null> {
    for (let attempt = 0; attempt < 60; attempt++) {
      try {
        const response = await fetch(this.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.user.token}` },
          body: JSON.stringify({ query: `query($id: ID!) { transaction(id: $id) { status amount failureCode } }`, variables: { id } }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await response.json()) as { data?: { transaction: { status: string; amount: string; failureCode: string | null } | null } };
        if (body.data) return body.data.transaction;
      } catch {
        // An outage: try again.
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`cannot read transaction ${id}`);
  }
}
