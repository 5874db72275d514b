// Randomness for the simulator: a seedable generator for behaviour (declines, drops, jitter) so runs can be
// reproduced, and cryptographic ids so that ids never collide, even across restarts with the same seed.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';

export const seedMax = 0xffff_ffff;

/** Mulberry32: tiny, fast and good enough for picking which payment fails; not for secrets. */
export class SeededRandom {
  private state = 0;

  constructor(seed: number | null) {
    this.reseed(seed);
  }

  /** A null seed picks one at random. */
  reseed(seed: number | null): void {
    const chosen = seed ?? randomInt(0, seedMax);
    assert(Number.isInteger(chosen) && chosen >= 0 && chosen <= seedMax, `seed ${chosen} out of range`);
    this.state = chosen >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let mixed = this.state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** True with the given probability: a rate of 0 never, a rate of 1 always. */
  chance(rate: number): boolean {
    assert(rate >= 0 && rate <= 1, `rate ${rate} out of range`);
    if (rate === 0) return false;
    return this.next() < rate;
  }
}

/** An opaque id such as `pay_3kTMd...`: 128 random bits, URL-safe. */
export function newId(prefix: 'pay' | 'pout' | 'rfnd' | 'msg' | 'dlv'): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
