// Payment limits by verification tier, in one readable table: per payment, per day and per month for
// each kind (send, add money, withdraw), and a wallet-balance cap that on-ramps may not pass. Amounts
// are paise; a limit is the most allowed. The database checks them (zp_check_limits) under a per-user
// lock, so concurrent payments cannot together pass one. PAYMENT_LIMITS overrides single entries.
import type { TransactionKind } from './transactions';

export const verificationTiers = ['NEW', 'VERIFIED'] as const;
export type VerificationTier = (typeof verificationTiers)[number];

export const limitNames = [
  'PER_PAYMENT_SEND',
  'DAILY_SEND',
  'MONTHLY_SEND',
  'PER_PAYMENT_ADD',
  'DAILY_ADD',
  'MONTHLY_ADD',
  'PER_PAYMENT_WITHDRAW',
  'DAILY_WITHDRAW',
  'MONTHLY_WITHDRAW',
  'BALANCE_CAP',
] as const;
export type LimitName = (typeof limitNames)[number];
export type LimitTable = Record<VerificationTier, Record<LimitName, bigint>>;

const rupees = (amount: number): bigint => BigInt(amount) * 100n;

/** The defaults (README, "Fraud and limits"): a NEW user is any user an operator has not verified. */
export const defaultLimits: LimitTable = {
  NEW: {
    PER_PAYMENT_SEND: rupees(10_000),
    DAILY_SEND: rupees(25_000),
    MONTHLY_SEND: rupees(50_000),
    PER_PAYMENT_ADD: rupees(10_000),
    DAILY_ADD: rupees(25_000),
    MONTHLY_ADD: rupees(50_000),
    PER_PAYMENT_WITHDRAW: rupees(10_000),
    DAILY_WITHDRAW: rupees(25_000),
    MONTHLY_WITHDRAW: rupees(50_000),
    BALANCE_CAP: rupees(50_000),
  },
  VERIFIED: {
    PER_PAYMENT_SEND: rupees(1_00_000),
    DAILY_SEND: rupees(2_00_000),
    MONTHLY_SEND: rupees(10_00_000),
    PER_PAYMENT_ADD: rupees(1_00_000),
    DAILY_ADD: rupees(2_00_000),
    MONTHLY_ADD: rupees(10_00_000),
    PER_PAYMENT_WITHDRAW: rupees(1_00_000),
    DAILY_WITHDRAW: rupees(2_00_000),
    MONTHLY_WITHDRAW: rupees(10_00_000),
    BALANCE_CAP: rupees(2_00_000),
  },
};

/** Days and months are counted in this time zone. */
export const limitsTimeZone = 'Asia/Kolkata';

const suffixByKind: Record<TransactionKind, 'SEND' | 'ADD' | 'WITHDRAW'> = { TRANSFER: 'SEND', ON_RAMP: 'ADD', OFF_RAMP: 'WITHDRAW' };

export const limitName = (period: 'PER_PAYMENT' | 'DAILY' | 'MONTHLY', kind: TransactionKind): LimitName =>
  `${period}_${suffixByKind[kind]}` as LimitName;

/**
 * Parses PAYMENT_LIMITS overrides, "TIER.NAME=paise" separated by commas (e.g.
 * "NEW.DAILY_SEND=100000,VERIFIED.BALANCE_CAP=50000000"), over the defaults; throws on a bad entry.
 */
export function parseLimitOverrides(text: string): LimitTable {
  const table: LimitTable = { NEW: { ...defaultLimits.NEW }, VERIFIED: { ...defaultLimits.VERIFIED } };
  for (const entry of text.split(',').map((item) => item.trim()).filter(Boolean)) {
    const match = /^([A-Z]+)\.([A-Z_]+)=([0-9]{1,15})$/.exec(entry);
    const tier = match?.[1] as VerificationTier | undefined;
    const name = match?.[2] as LimitName | undefined;
    if (!match || !verificationTiers.includes(tier!) || !limitNames.includes(name!)) {
      throw new Error(`"${entry}" is not TIER.LIMIT=paise with TIER one of ${verificationTiers.join(', ')} and LIMIT one of ${limitNames.join(', ')}`);
    }
    table[tier!][name!] = BigInt(match[3]!);
  }
  return table;
}

/** The table as zp_check_limits reads it: {timeZone, tiers: {<tier>: {<kind>: {perPayment, daily, monthly}, balanceCap}}}. */
export function limitsForDatabase(table: LimitTable): Record<string, unknown> {
  const entry = (name: LimitName, tier: VerificationTier) => ({ name, minor: String(table[tier][name]) });
  const tiers = Object.fromEntries(
    verificationTiers.map((tier) => [
      tier,
      {
        ...Object.fromEntries(
          (['TRANSFER', 'ON_RAMP', 'OFF_RAMP'] as const).map((kind) => [
            kind,
            { perPayment: entry(limitName('PER_PAYMENT', kind), tier), daily: entry(limitName('DAILY', kind), tier), monthly: entry(limitName('MONTHLY', kind), tier) },
          ]),
        ),
        balanceCap: entry('BALANCE_CAP', tier),
      },
    ]),
  );
  return { timeZone: limitsTimeZone, tiers };
}
