// The drill's attacks and operator actions on a seeded schedule, like its process faults: late approvals by
// the drill's user, forged webhooks and signals, workflow terminations, and windows of Bank API faults.
import type { ApiFaultRates } from './bank';
import { Random } from './random';

/** When the drill's user approves an on-ramp's payment at the bank, against the on-ramp's deadline. */
export const latePlans = ['before', 'race', 'after', 'after-unreachable'] as const;
export type LatePlan = (typeof latePlans)[number];

export const webhookVariants = ['payment.succeeded', 'payout.failed', 'payment.succeeded-wrong-amount'] as const;
export type WebhookVariant = (typeof webhookVariants)[number];

export const signalVariants = ['success-never-given', 'null', 'wrong-types', 'status-pending', 'payout-failed-never-given'] as const;
export type SignalVariant = (typeof signalVariants)[number];

export type ManualCase =
  | { atMs: number; amount: string; kind: 'late'; plan: LatePlan }
  | { atMs: number; amount: string; kind: 'forged-webhook'; variant: WebhookVariant; thenApprove: boolean }
  | { atMs: number; amount: string; kind: 'forged-signal'; variant: SignalVariant; thenApprove: boolean };

export interface ApiFaultWindow {
  atMs: number;
  durationMs: number;
  rates: ApiFaultRates;
}

export interface AttackCounts {
  lateApprovals: number;
  forgedWebhooks: number;
  forgedSignals: number;
  terminations: number;
  apiFaultWindows: number;
}

export interface AttackPlan {
  cases: ManualCase[];
  /** When the operator terminates a running payment workflow. */
  terminationsAtMs: number[];
  apiFaultWindows: ApiFaultWindow[];
}

export const targetsPayout = (manualCase: ManualCase): boolean =>
  (manualCase.kind === 'forged-webhook' && manualCase.variant === 'payout.failed') ||
  (manualCase.kind === 'forged-signal' && (manualCase.variant === 'payout-failed-never-given' || manualCase.variant === 'wrong-types'));

const cycle = <T>(items: readonly T[], count: number): T[] => Array.from({ length: count }, (_, index) => items[index % items.length]!);

function shuffle<T>(random: Random, items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = random.int(0, index);
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}

/** Evenly spread times in [fromShare, toShare] of the run, each jittered within its slot. */
function spread(random: Random, count: number, durationMs: number, fromShare: number, toShare: number): number[] {
  const slotMs = (durationMs * (toShare - fromShare)) / Math.max(count, 1);
  return Array.from({ length: count }, (_, index) => Math.round(durationMs * fromShare + slotMs * index + random.next() * slotMs * 0.6));
}

export function planAttacks(seed: number, counts: AttackCounts, durationMs: number): AttackPlan {
  const random = new Random(seed ^ 0xa77ac);
  const kinds: Array<Omit<ManualCase, 'atMs' | 'amount'>> = [
    ...shuffle(random, cycle(latePlans, counts.lateApprovals)).map((plan) => ({ kind: 'late' as const, plan })),
    ...cycle(webhookVariants, counts.forgedWebhooks).map((variant) => ({ kind: 'forged-webhook' as const, variant, thenApprove: random.chance(0.5) })),
    ...cycle(signalVariants, counts.forgedSignals).map((variant) => ({ kind: 'forged-signal' as const, variant, thenApprove: random.chance(0.5) })),
  ];
  shuffle(random, kinds);
  const times = spread(random, kinds.length, durationMs, 0.05, 0.8);
  const cases = kinds.map((kind, index) => ({ ...kind, atMs: times[index]!, amount: String(random.int(1_000, 20_000)) }) as ManualCase);
  const terminationsAtMs = spread(random, counts.terminations, durationMs, 0.1, 0.85);
  const windowStarts = spread(random, counts.apiFaultWindows, durationMs, 0.1, 0.7);
  const apiFaultWindows = windowStarts.map((atMs) => ({
    atMs,
    durationMs: Math.min(random.int(8_000, 15_000), Math.round(durationMs * 0.2)),
    rates: { '408': random.int(10, 25) / 100, '429': random.int(5, 20) / 100, '404': random.int(5, 20) / 100 },
  }));
  return { cases, terminationsAtMs, apiFaultWindows };
}
