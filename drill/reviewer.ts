// The drill's simulated operator for fraud review (issue 12): an account made as `npm run operator -- create`
// makes it (api/operators.ts), signed in on /operator/graphql over HTTP; it polls `reviews` and decides each
// payment by a seeded choice (approve, reject, or leave it to time out), some through the Temporal UI's path
// (a reviewDecision signal naming the operator), a few twice or after the review's deadline, and keeps working
// through the drill's process faults (every call is retried; a lost session signs in again).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createOperator, generateOperatorPassword } from '../api/operators';
import { workflowIdFor, type TransactionKind } from '../common/transactions';
import type { Pool } from '../db/pool';
import { Random } from './random';

/** The review's deadline in the drill: short, so that time-outs happen within it. */
export const drillReviewTimeoutMs = 5_000;

/**
 * Rules on with limits consistent with the workload: a send or withdrawal of at least 90% of the per-payment
 * limit (₹250) scores JUST_UNDER_LIMIT's 50 and waits for review; every other rule may fire on the drill's
 * fast scripted users, but their weights add up to 49, under the review score, so no ordinary payment is
 * reviewed. Daily, monthly and balance limits are out of the workload's reach.
 */
export const flaggedAmountMin = 22_500;
export const flaggedAmountMax = 25_000;
const farAway = '100000000000';
export const reviewServiceEnv: Readonly<Record<string, string>> = {
  FRAUD_RULES_ENABLED: 'true',
  FRAUD_REVIEW_SCORE: '50',
  FRAUD_RULES: [
    'JUST_UNDER_LIMIT.threshold=90', 'JUST_UNDER_LIMIT.weight=50',
    'VELOCITY_COUNT.weight=10', 'VELOCITY_AMOUNT.weight=10', 'NEW_PAYEES.weight=10', 'FAILED_BURST.weight=10',
    'PAYEE_MANY_NEW_SENDERS.weight=5', 'FIRST_LARGE_AFTER_SIGN_UP.weight=2', 'NEW_SESSION.weight=2',
  ].join(','),
  PAYMENT_LIMITS_ENABLED: 'true',
  PAYMENT_LIMITS: [
    `NEW.PER_PAYMENT_SEND=${flaggedAmountMax}`, `NEW.PER_PAYMENT_WITHDRAW=${flaggedAmountMax}`,
    ...['DAILY_SEND', 'MONTHLY_SEND', 'DAILY_ADD', 'MONTHLY_ADD', 'DAILY_WITHDRAW', 'MONTHLY_WITHDRAW', 'BALANCE_CAP'].map((name) => `NEW.${name}=${farAway}`),
  ].join(','),
  REVIEW_TIMEOUT_MS: String(drillReviewTimeoutMs),
};

export type ReviewPlan = 'APPROVE' | 'REJECT' | 'TIMEOUT';
export type Decision = 'APPROVE' | 'REJECT';
export type Via = 'operator-api' | 'temporal-ui';

/** One decision the reviewer sent, and what it got back. */
export interface ReviewAttempt {
  /** 'decision': the plan's; 'duplicate': the other decision once the first was recorded; 'late': after the review's deadline. */
  role: 'decision' | 'duplicate' | 'late';
  decision: Decision;
  via: Via;
  /** From the start of the workload. */
  atMs: number;
  /**
   * 'decided': the API recorded it; 'not-in-review': the API refused it (the payment's status then in detail);
   * 'past-deadline': the API refused it as too late (REVIEW_DEADLINE_PASSED: the database ended the payment
   * REVIEW_TIMEOUT instead; its status in detail); 'signalled': the workflow took the signal; 'workflow-closed':
   * no running workflow took it; 'failed': no answer before the reviewer gave up.
   */
  answer: 'decided' | 'not-in-review' | 'past-deadline' | 'signalled' | 'workflow-closed' | 'failed';
  detail: string | null;
  /** An earlier try of this call got no answer: it may have been recorded (then the retry is refused). */
  retried: boolean;
}

/** The reviewer's record of one payment it found waiting. */
export interface ReviewRecord {
  transactionId: string;
  kind: TransactionKind;
  amount: string;
  seenAtMs: number;
  deadlineAt: string | null;
  plan: ReviewPlan;
  attempts: ReviewAttempt[];
}

interface ReviewerOptions {
  operatorUrl: string;
  pool: Pool;
  temporal: Client;
  seed: number;
  startedAt: () => number;
  log: (line: string) => void;
}

interface GraphQLAnswer {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: { code?: string; status?: string } }>;
}

const pollIntervalMs = 250;
const retryDelayMs = 300;
/** How long past a review's deadline the reviewer keeps trying one call or waiting for its end. */
const graceMs = 60_000;
const requestTimeoutMs = 10_000;
const reviewsPageSize = 100;
/** A late decision goes out this long after the review's deadline at most (seeded): some race its workflow's expiry. */
const lateAfterDeadlineMaxMs = 1_000;

/** A call that never reached the API (its sign-in failed). */
class NotSent extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const reviewsQuery = `{ reviews(first: ${reviewsPageSize}) { deadlineAt payment { id kind amount status } } }`;
const reviewQuery = `query($id: ID!) { review(transactionId: $id) { outcome payment { status } } }`;
const decideMutation = `mutation($id: ID!, $decision: ReviewDecision!, $reason: String!) { decideReview(transactionId: $id, decision: $decision, reason: $reason) { outcome } }`;
const signInMutation = `mutation($name: String!, $password: String!) { signIn(name: $name, password: $password) { token } }`;

export class DrillReviewer {
  readonly records = new Map<string, ReviewRecord>();
  readonly name: string;
  private readonly password = generateOperatorPassword();
  private readonly random: Random;
  private token: string | null = null;
  private readonly handlers: Array<Promise<void>> = [];
  private stopRequestedAt: number | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: ReviewerOptions) {
    this.name = `drill-reviewer-${options.seed}`;
    this.random = new Random(options.seed ^ 0x4e71e3);
  }

  /** Creates the operator account (as the command does) and starts polling. */
  async start(): Promise<void> {
    await createOperator(this.options.pool, this.name, this.password);
    this.loop = this.poll();
  }

  /** Stops polling once nothing waits for review any more, then waits for every decision in flight. */
  async drain(): Promise<void> {
    this.stopRequestedAt = Date.now();
    await this.loop;
    await Promise.all(this.handlers);
  }

  private atMs(): number {
    return Date.now() - this.options.startedAt();
  }

  /** When the payment's review runs out (as the API said; else as the drill set it, from when it was found). */
  private deadlineOf(record: ReviewRecord): number {
    return record.deadlineAt ? Date.parse(record.deadlineAt) : this.options.startedAt() + record.seenAtMs + drillReviewTimeoutMs;
  }

  private async poll(): Promise<void> {
    for (;;) {
      const answer = await this.call(reviewsQuery, {}).catch(() => null);
      const waiting = (answer?.data?.reviews ?? null) as Array<{ deadlineAt: string | null; payment: { id: string; kind: TransactionKind; amount: string; status: string } }> | null;
      for (const review of waiting ?? []) {
        if (this.records.has(review.payment.id)) continue;
        const record: ReviewRecord = {
          transactionId: review.payment.id, kind: review.payment.kind, amount: review.payment.amount, seenAtMs: this.atMs(), deadlineAt: review.deadlineAt,
          plan: 'TIMEOUT', attempts: [],
        };
        this.records.set(record.transactionId, record);
        this.handlers.push(this.handle(record, this.draw(record)));
      }
      if (this.stopRequestedAt !== null && ((waiting !== null && waiting.length === 0) || Date.now() - this.stopRequestedAt > graceMs)) return;
      await sleep(pollIntervalMs);
    }
  }

  /** Every seeded choice for one payment, drawn at once in the order payments are found. */
  private draw(record: ReviewRecord) {
    const roll = this.random.next();
    record.plan = roll < 0.4 ? 'APPROVE' : roll < 0.7 ? 'REJECT' : 'TIMEOUT';
    const windowMs = record.deadlineAt ? Date.parse(record.deadlineAt) - Date.now() : drillReviewTimeoutMs;
    const via = (this.random.chance(0.3) ? 'temporal-ui' : 'operator-api') as Via;
    // One draw times both the plan's decision (within the first 40% of the window) and a time-out's late one.
    const delayRoll = this.random.next();
    return {
      via,
      delayMs: Math.round(delayRoll * Math.max(windowMs, 0) * 0.4),
      // At least 1 ms: deadlineAt is the database's time cut to milliseconds.
      lateAfterDeadlineMs: 1 + Math.round(delayRoll * (lateAfterDeadlineMaxMs - 1)),
      duplicate: this.random.chance(0.25),
      duplicateVia: (this.random.chance(0.5) ? 'temporal-ui' : 'operator-api') as Via,
      late: this.random.chance(0.5),
      lateDecision: (this.random.chance(0.5) ? 'APPROVE' : 'REJECT') as Decision,
      lateVia: (this.random.chance(0.5) ? 'temporal-ui' : 'operator-api') as Via,
    };
  }

  private async handle(record: ReviewRecord, choice: ReturnType<DrillReviewer['draw']>): Promise<void> {
    try {
      if (record.plan === 'TIMEOUT') {
        if (!choice.late) return;
        // Late: just past the deadline, racing the workflow's timer (the database then ends the payment
        // REVIEW_TIMEOUT itself and refuses the decision, REVIEW_DEADLINE_PASSED) or after it (no longer in
        // review); either way it must change nothing.
        await sleep(this.deadlineOf(record) + choice.lateAfterDeadlineMs - Date.now());
        await this.decide(record, 'late', choice.lateDecision, choice.lateVia);
        return;
      }
      await sleep(choice.delayMs);
      const first = await this.decide(record, 'decision', record.plan, choice.via);
      if (!choice.duplicate || first.answer === 'failed') return;
      // Twice: the other decision, once the first is recorded (or the review ended otherwise).
      if (!(await this.waitUntilEnded(record))) return;
      await this.decide(record, 'duplicate', record.plan === 'APPROVE' ? 'REJECT' : 'APPROVE', choice.duplicateVia);
    } catch (error) {
      this.options.log(`drill: reviewer: ${record.transactionId}: ${String(error).slice(0, 200)}`);
    }
  }

  /** Sends one decision by its path; a signal no running workflow takes is sent through the API instead. */
  private async decide(record: ReviewRecord, role: ReviewAttempt['role'], decision: Decision, via: Via): Promise<ReviewAttempt> {
    const reason = `drill ${role}: ${decision.toLowerCase()} (seed ${this.options.seed})`;
    const attempt: ReviewAttempt = { role, decision, via, atMs: this.atMs(), answer: 'failed', detail: null, retried: false };
    record.attempts.push(attempt);
    const giveUpAt = this.deadlineOf(record) + graceMs;
    if (via === 'temporal-ui') {
      const signalled = await this.signal(record, decision, reason, giveUpAt);
      attempt.answer = signalled;
      // No running workflow (it ended, or the drill's operator terminated it and a reconciliation waits in
      // its place): the same decision through the API, which answers for the database.
      if (signalled === 'workflow-closed') return this.decide(record, role, decision, 'operator-api');
      return attempt;
    }
    while (Date.now() < giveUpAt) {
      const answer = await this.call(decideMutation, { id: record.transactionId, decision, reason }).catch((error: unknown) => ({ notSent: error instanceof NotSent }));
      if ('notSent' in answer) {
        // No answer: unless it was never sent, it may have been recorded.
        if (!answer.notSent) attempt.retried = true;
      } else if (answer.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED') {
        // The session was refused before the decision was looked at: sign in again.
      } else if (answer.data?.decideReview) {
        attempt.answer = 'decided';
        attempt.detail = answer.data.decideReview.outcome;
        return attempt;
      } else if (answer.errors?.[0]?.extensions?.code === 'NOT_FOUND') {
        attempt.answer = 'not-in-review';
        attempt.detail = answer.errors[0].extensions.status ?? null;
        return attempt;
      } else if (answer.errors?.[0]?.extensions?.code === 'REVIEW_DEADLINE_PASSED') {
        // Refused, too late: the payment was rejected for want of a decision in time.
        attempt.answer = 'past-deadline';
        attempt.detail = answer.errors[0].extensions.status ?? null;
        return attempt;
      } else {
        attempt.retried = true;
      }
      await sleep(retryDelayMs);
    }
    return attempt;
  }

  /** The Temporal UI's path: the reviewDecision signal to the payment's workflow, naming this operator. */
  private async signal(record: ReviewRecord, decision: Decision, reason: string, giveUpAt: number): Promise<ReviewAttempt['answer']> {
    const handle = this.options.temporal.workflow.getHandle(workflowIdFor(record.kind, record.transactionId));
    while (Date.now() < giveUpAt) {
      try {
        await handle.signal('reviewDecision', { decision: decision.toLowerCase(), operator: this.name, reason });
        return 'signalled';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return 'workflow-closed';
        // Temporal is restarting: again.
      }
      await sleep(retryDelayMs);
    }
    return 'failed';
  }

  /** Waits until the payment's review has an outcome; false when it was not seen in time. */
  private async waitUntilEnded(record: ReviewRecord): Promise<boolean> {
    const giveUpAt = this.deadlineOf(record) + graceMs;
    while (Date.now() < giveUpAt) {
      const answer = await this.call(reviewQuery, { id: record.transactionId }).catch(() => null);
      const review = answer?.data?.review as { outcome: string | null; payment: { status: string } } | null | undefined;
      if (review && (review.outcome !== null || review.payment.status !== 'IN_REVIEW')) return true;
      await sleep(pollIntervalMs);
    }
    return false;
  }

  /** One operator API call; signs in first when there is no session (a refused session is dropped: the next call signs in). */
  private async call(query: string, variables: Record<string, unknown>): Promise<GraphQLAnswer> {
    if (!this.token) await this.signIn();
    const answer = await this.post(query, variables, this.token);
    if (answer.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED') this.token = null;
    return answer;
  }

  /** Signs in; any failure is NotSent (the call it preceded never left). */
  private async signIn(): Promise<void> {
    const answer = await this.post(signInMutation, { name: this.name, password: this.password }, null).catch((error: unknown) => {
      throw new NotSent(`operator sign-in: ${String(error)}`);
    });
    const token = answer.data?.signIn?.token as string | undefined;
    if (!token) throw new NotSent(`operator sign-in failed: ${JSON.stringify(answer.errors ?? null).slice(0, 200)}`);
    this.token = token;
  }

  private async post(query: string, variables: Record<string, unknown>, token: string | null): Promise<GraphQLAnswer> {
    const response = await fetch(this.options.operatorUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as GraphQLAnswer;
  }
}
