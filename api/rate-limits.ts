// Rate limits shared by every API instance: rate-limiter-flexible's counters in PostgreSQL (the
// rate_limits table made by a migration). Each call of a limited operation counts, so every alias
// of a mutation in one request counts too. A refusal is RATE_LIMITED with extensions.retryAfterSeconds
// and is written to the security event log (at most once a minute per limit and key).
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { ApiConfig, RateLimitSetting } from '../common/config';
import { AppError } from '../common/errors';
import type { Logger } from '../common/log';
import type { Pool } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';

export const limitNames = [
  'signInFailuresByPhoneAddress',
  'signInFailuresByPhone',
  'signInFailuresByAddress',
  'codesByPhone',
  'codesByAddress',
  'signUpsByPhone',
  'signUpsByAddress',
  'mutationsByUser',
  'payeeLookupsByUser',
  'secondFactorByUser',
] as const;
export type LimitName = (typeof limitNames)[number];

/** The sign-in limits, whose refusals grow (a back-off) instead of ending with their window. */
export const signInLimits = ['signInFailuresByPhoneAddress', 'signInFailuresByPhone', 'signInFailuresByAddress'] as const;

const backoffWindowSeconds = 24 * 3600;
const refusalLogIntervalMs = 60_000;
const refusalLogKeysMax = 10_000;

export interface LimitContext {
  userId?: string | null;
  clientAddress: string | null;
}

function settings(config: ApiConfig): Record<LimitName, RateLimitSetting> {
  return {
    signInFailuresByPhoneAddress: config.RATE_LIMIT_SIGN_IN_FAILURES_PER_PHONE_ADDRESS,
    signInFailuresByPhone: config.RATE_LIMIT_SIGN_IN_FAILURES_PER_PHONE,
    signInFailuresByAddress: config.RATE_LIMIT_SIGN_IN_FAILURES_PER_ADDRESS,
    codesByPhone: config.RATE_LIMIT_CODES_PER_PHONE,
    codesByAddress: config.RATE_LIMIT_CODES_PER_ADDRESS,
    signUpsByPhone: config.RATE_LIMIT_SIGN_UPS_PER_PHONE,
    signUpsByAddress: config.RATE_LIMIT_SIGN_UPS_PER_ADDRESS,
    mutationsByUser: config.RATE_LIMIT_MUTATIONS_PER_USER,
    payeeLookupsByUser: config.RATE_LIMIT_PAYEE_LOOKUPS_PER_USER,
    secondFactorByUser: config.RATE_LIMIT_SECOND_FACTOR_PER_USER,
  };
}

/** The application's pool reads BIGINT as bigint; the library does arithmetic with numbers. */
function numericRows(pool: Pool) {
  return {
    query: async (query: { text: string; values?: unknown[]; name?: string }) => {
      const result = await pool.query(query);
      for (const row of result.rows) {
        for (const [column, value] of Object.entries(row)) if (typeof value === 'bigint') row[column] = Number(value);
      }
      return result;
    },
  };
}

export function rateLimited(retryAfterMs: number): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError('RATE_LIMITED', `Too many attempts; try again in ${retryAfterSeconds} seconds`, { retryAfterSeconds });
}

export class RateLimits {
  private readonly limiters: Record<LimitName, RateLimiterPostgres>;
  private readonly backoff: RateLimiterPostgres;
  private readonly refusalsLogged = new Map<string, number>();

  constructor(
    private readonly pool: Pool,
    private readonly config: ApiConfig,
    private readonly log: Logger,
  ) {
    const storeClient = numericRows(pool);
    const limiter = (keyPrefix: string, points: number, duration: number, clearExpired: boolean) =>
      new RateLimiterPostgres({
        storeClient,
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true,
        // One limiter per process sweeps expired rows of the shared table.
        clearExpiredByTimeout: clearExpired,
        keyPrefix,
        points,
        duration,
      });
    const all = settings(config);
    this.limiters = Object.fromEntries(
      limitNames.map((name, index) => [name, limiter(name, all[name].points, all[name].durationSeconds, index === 0)]),
    ) as Record<LimitName, RateLimiterPostgres>;
    this.backoff = limiter('signInBackoff', 1_000_000, backoffWindowSeconds, false);
  }

  /** Counts one use; over the limit throws RATE_LIMITED. */
  async consume(name: LimitName, key: string, context: LimitContext): Promise<void> {
    try {
      await this.limiters[name].consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      await this.refused(name, key, error.msBeforeNext, context);
    }
  }

  /** Throws RATE_LIMITED while the key is over its limit (or locked out), without counting a use. */
  async check(name: LimitName, key: string, context: LimitContext): Promise<void> {
    const state = await this.limiters[name].get(key);
    if (state && state.consumedPoints > this.limiters[name].points && state.msBeforeNext > 0) {
      await this.refused(name, key, state.msBeforeNext, context);
    }
  }

  /**
   * Counts a failure of a sign-in limit; past the limit the key is locked out for the back-off, which
   * doubles with each lock-out of that key within a day up to SIGN_IN_BACKOFF_MAX_SECONDS. A stranger can
   * therefore delay a phone's owner for at most that long at a time, never lock them out for good.
   */
  async fail(name: (typeof signInLimits)[number], key: string, context: LimitContext): Promise<void> {
    try {
      await this.limiters[name].consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const lockouts = (await this.backoff.consume(`${name}:${key}`)).consumedPoints;
      const seconds = Math.min(this.config.SIGN_IN_BACKOFF_BASE_SECONDS * 2 ** Math.min(lockouts - 1, 20), this.config.SIGN_IN_BACKOFF_MAX_SECONDS);
      await this.limiters[name].block(key, seconds);
      await this.refused(name, key, seconds * 1000, context);
    }
  }

  /** Gives back one use counted by consume (an attempt that turned out right, so only wrong ones count). */
  async refund(name: LimitName, key: string): Promise<void> {
    await this.limiters[name].reward(key, 1);
  }

  /** Forgets a key's failures (a successful sign-in from that phone and address). */
  async reset(name: LimitName, key: string): Promise<void> {
    await this.limiters[name].delete(key);
    if ((signInLimits as readonly string[]).includes(name)) await this.backoff.delete(`${name}:${key}`);
  }

  private async refused(name: LimitName, key: string, retryAfterMs: number, context: LimitContext): Promise<never> {
    const error = rateLimited(retryAfterMs);
    const logKey = `${name}:${key}`;
    const now = Date.now();
    if ((this.refusalsLogged.get(logKey) ?? 0) < now - refusalLogIntervalMs) {
      if (this.refusalsLogged.size >= refusalLogKeysMax) this.refusalsLogged.clear();
      this.refusalsLogged.set(logKey, now);
      await recordSecurityEvent(this.pool, {
        kind: 'rate_limit.refused',
        outcome: 'denied',
        userId: context.userId ?? null,
        actor: 'user',
        clientAddress: context.clientAddress,
        subject: name,
        details: { limit: name, key: key.slice(0, 80), retryAfterSeconds: error.details.retryAfterSeconds },
      }).catch((failure: unknown) => this.log.warn({ err: failure }, 'security event not recorded'));
    }
    throw error;
  }
}
