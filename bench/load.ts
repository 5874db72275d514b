// The load driver: open loop (operations at a fixed offered rate, latency counted from when each was
// due, so a slow system cannot hide its queue) or closed loop (a fixed number of clients, each sending
// its next operation when the last finished). Both bounded in time and in operations in flight.
import type { Operation, Outcome, Target } from './targets';

export interface LoadPlan {
  /** Operations per second, or 'max' for the closed loop. */
  rate: number | 'max';
  /** In flight at most; in the closed loop, exactly this many clients. */
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  completionTimeoutMs: number;
  /** Stops sending (Ctrl-C); what is in flight still finishes. */
  signal: AbortSignal;
}

export interface LoadProgress {
  elapsedMs: number;
  /** Completed operations that were sent in the measured window. */
  completed: number;
  inFlight: number;
  errors: number;
  /** Completions in the last second. */
  recentPerSecond: number;
}

export interface ErrorCount {
  count: number;
  /** A few messages, to tell what a code means. */
  examples: string[];
}

export interface LoadRecord {
  /** Operations due in the measured window. */
  sent: number;
  completed: number;
  /** Operations, sent at any time, that completed inside the window: the sustained rate's numerator. */
  completedInWindow: number;
  /** Of the completed operations sent in the window; a uniform sample when there were too many to keep. */
  latenciesMs: number[];
  latencySampled: boolean;
  maxLatencyMs: number;
  responseMs: number[];
  /** Transfers whose mutation answered before their final status (the API's wait ran out). */
  answeredPending: number;
  errors: Map<string, ErrorCount>;
  /** Per second of the window (by completion time, whenever sent): completions and their latencies. */
  perSecond: Array<{ completed: number; latenciesMs: number[] }>;
  windowMs: number;
}

const latencySamplesMax = 2_000_000;
const errorExamplesMax = 3;
const progressIntervalMs = 250;
/** The open loop's pacing timer: how often it wakes to send what has come due. */
const pacingIntervalMs = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Recorder {
  readonly record: LoadRecord;
  private readonly recentCompletions: number[] = [];

  constructor(
    private readonly windowStartMs: number,
    private readonly windowEndMs: number,
    durationMs: number,
  ) {
    this.record = {
      sent: 0,
      completed: 0,
      completedInWindow: 0,
      latenciesMs: [],
      latencySampled: false,
      maxLatencyMs: 0,
      responseMs: [],
      answeredPending: 0,
      errors: new Map(),
      perSecond: Array.from({ length: Math.ceil(durationMs / 1000) }, () => ({ completed: 0, latenciesMs: [] })),
      windowMs: durationMs,
    };
  }

  measured(dueAtMs: number): boolean {
    return dueAtMs >= this.windowStartMs && dueAtMs < this.windowEndMs;
  }

  error(code: string, message: string): void {
    const entry = this.record.errors.get(code) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < errorExamplesMax && !entry.examples.includes(message)) entry.examples.push(message);
    this.record.errors.set(code, entry);
  }

  outcome(dueAtMs: number, outcome: Outcome): void {
    const measured = this.measured(dueAtMs);
    const inWindow = outcome.finishedAtMs >= this.windowStartMs && outcome.finishedAtMs < this.windowEndMs;
    if (outcome.ok) {
      this.recentCompletions.push(outcome.finishedAtMs);
      if (inWindow) this.second(outcome.finishedAtMs, outcome.finishedAtMs - dueAtMs);
    }
    if (!measured) return;
    if (!outcome.ok) return this.error(outcome.code, outcome.message);
    const latencyMs = outcome.finishedAtMs - dueAtMs;
    const record = this.record;
    record.completed++;
    record.maxLatencyMs = Math.max(record.maxLatencyMs, latencyMs);
    if (outcome.answeredPending) record.answeredPending++;
    this.keep(record.latenciesMs, latencyMs);
    if (outcome.responseMs !== null) this.keep(record.responseMs, outcome.responseMs);
  }

  /** The timeline counts every completion inside the window, whenever its operation was sent. */
  private second(finishedAtMs: number, latencyMs: number): void {
    this.record.completedInWindow++;
    const second = this.record.perSecond[Math.floor((finishedAtMs - this.windowStartMs) / 1000)];
    if (!second) return;
    second.completed++;
    if (second.latenciesMs.length < latencySamplesMax / this.record.perSecond.length) second.latenciesMs.push(latencyMs);
  }

  /** Reservoir sampling past the cap keeps memory bounded and percentiles unbiased. */
  private keep(values: number[], value: number): void {
    if (values.length < latencySamplesMax) {
      values.push(value);
      return;
    }
    this.record.latencySampled = true;
    const slot = Math.floor(Math.random() * this.record.completed);
    if (slot < latencySamplesMax) values[slot] = value;
  }

  recentPerSecond(nowMs: number): number {
    while (this.recentCompletions.length > 0 && this.recentCompletions[0]! < nowMs - 1000) this.recentCompletions.shift();
    return this.recentCompletions.length;
  }
}

/** Runs the plan against the target; resolves once every operation has finished or timed out. */
export async function runLoad(plan: LoadPlan, target: Target, nextOperation: () => Operation, onProgress: (progress: LoadProgress) => void): Promise<LoadRecord> {
  const startMs = performance.now();
  const windowStartMs = startMs + plan.warmupMs;
  const windowEndMs = windowStartMs + plan.durationMs;
  const recorder = new Recorder(windowStartMs, windowEndMs, plan.durationMs);
  let inFlight = 0;
  const running = new Set<Promise<void>>();

  const launch = (dueAtMs: number): Promise<void> => {
    if (recorder.measured(dueAtMs)) recorder.record.sent++;
    inFlight++;
    const done = target
      .execute(nextOperation(), plan.completionTimeoutMs)
      .catch((error: unknown): Outcome => ({ ok: false, finishedAtMs: performance.now(), responseMs: null, code: 'CLIENT_BUG', message: String(error) }))
      .then((outcome) => {
        inFlight--;
        recorder.outcome(dueAtMs, outcome);
      });
    running.add(done);
    void done.finally(() => running.delete(done));
    return done;
  };

  const progress = () => {
    const now = performance.now();
    const errors = [...recorder.record.errors.values()].reduce((sum, entry) => sum + entry.count, 0);
    onProgress({
      elapsedMs: Math.max(0, now - windowStartMs),
      completed: recorder.record.completed,
      inFlight,
      errors,
      recentPerSecond: recorder.recentPerSecond(now),
    });
  };
  const ticker = setInterval(progress, progressIntervalMs);
  try {
    if (plan.rate === 'max') {
      const lanes = Array.from({ length: plan.concurrency }, async () => {
        while (performance.now() < windowEndMs && !plan.signal.aborted) await launch(performance.now());
      });
      await Promise.all(lanes);
    } else {
      await openLoop(plan.rate, plan.concurrency, startMs, windowEndMs, plan.signal, recorder, () => inFlight, launch);
    }
    // Operations still in flight finish or time out by themselves (each is bounded).
    while (running.size > 0) await Promise.all([...running]);
  } finally {
    clearInterval(ticker);
  }
  progress();
  return recorder.record;
}

async function openLoop(
  rate: number,
  concurrency: number,
  startMs: number,
  endMs: number,
  signal: AbortSignal,
  recorder: Recorder,
  inFlight: () => number,
  launch: (dueAtMs: number) => Promise<void>,
): Promise<void> {
  const intervalMs = 1000 / rate;
  for (let issued = 0; ; ) {
    const now = performance.now();
    if (now >= endMs || signal.aborted) return;
    // Everything that has come due is sent now, each keeping its own due time.
    for (let dueAtMs = startMs + issued * intervalMs; dueAtMs <= now && dueAtMs < endMs; dueAtMs = startMs + issued * intervalMs) {
      issued++;
      if (inFlight() >= concurrency) {
        // The client's own limit: not sent, and counted, so an overloaded run shows it.
        if (recorder.measured(dueAtMs)) {
          recorder.record.sent++;
          recorder.error('CLIENT_IN_FLIGHT_LIMIT', `more than ${concurrency} operations in flight`);
        }
        continue;
      }
      void launch(dueAtMs);
    }
    await sleep(Math.min(pacingIntervalMs, Math.max(0, startMs + issued * intervalMs - performance.now())));
  }
}
