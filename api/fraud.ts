// Scoring a payment before it is recorded: the rules of common/fraud-rules.ts over what the database
// says about the user, the payee and the session (db/fraud.ts), and the limits refusal as an error with
// its code. The decision itself (score, rules, review) is recorded by the submit function with the
// payment, in the same SQL transaction.
import type { ApiConfig } from '../common/config';
import { AppError } from '../common/errors';
import type { FraudRuleTable } from '../common/fraud-rules';
import { limitName, limitsForDatabase, type LimitTable } from '../common/limits';
import type { TransactionKind } from '../common/transactions';
import { readFraudFeatures, type FiredRule, type FraudFeatures } from '../db/fraud';
import type { Queryable } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';

export interface FraudPolicy {
  /** null: limits off. */
  limits: LimitTable | null;
  /** null: rules off (nothing scored or recorded). */
  rules: FraudRuleTable | null;
  reviewScore: number;
  reviewTimeoutSeconds: number;
}

export interface ScoredPayment {
  kind: TransactionKind;
  userId: string;
  amount: bigint;
  payeeId: string | null;
  sessionTokenHash: Buffer | null;
}

/** What zp_submit_checked_payment records with the payment: null when the payment is not scored. */
export interface FraudDecision {
  score: number;
  rules: FiredRule[];
  review: boolean;
  timeoutSeconds: number;
  clientAddress: string | null;
}

/** The rules that fire on this payment, given what the database says. Pure: the tests' arithmetic. */
export function firedRules(rules: FraudRuleTable, features: FraudFeatures, payment: ScoredPayment, limits: LimitTable | null): FiredRule[] {
  const fired: FiredRule[] = [];
  const fire = (name: keyof FraudRuleTable, value: bigint | number, when: boolean) => {
    if (when) fired.push({ name, weight: rules[name].weight, value: String(value), threshold: String(rules[name].threshold) });
  };
  const { amount } = payment;
  const sends = payment.kind === 'TRANSFER';
  const count = features.velocityCount + 1;
  fire('VELOCITY_COUNT', count, BigInt(count) >= rules.VELOCITY_COUNT.threshold);
  const total = features.velocityAmount + amount;
  fire('VELOCITY_AMOUNT', total, total >= rules.VELOCITY_AMOUNT.threshold);
  fire('NEW_PAYEES', features.newPayees, sends && BigInt(features.newPayees) >= rules.NEW_PAYEES.threshold);
  fire(
    'FIRST_LARGE_AFTER_SIGN_UP',
    amount,
    features.accountAgeSeconds < rules.FIRST_LARGE_AFTER_SIGN_UP.windowSeconds && amount >= rules.FIRST_LARGE_AFTER_SIGN_UP.threshold && !features.earlierLarge,
  );
  const session = rules.NEW_SESSION;
  fire(
    'NEW_SESSION',
    amount,
    features.sessionAgeSeconds !== null && features.sessionAfterSignUpSeconds !== null &&
      features.sessionAgeSeconds < session.windowSeconds && features.sessionAfterSignUpSeconds > session.windowSeconds && amount >= session.threshold,
  );
  const perPayment = limits?.[features.tier][limitName('PER_PAYMENT', payment.kind)];
  fire('JUST_UNDER_LIMIT', amount, perPayment !== undefined && amount <= perPayment && amount * 100n >= rules.JUST_UNDER_LIMIT.threshold * perPayment);
  fire('FAILED_BURST', features.failedRecently, BigInt(features.failedRecently) >= rules.FAILED_BURST.threshold);
  fire('PAYEE_MANY_NEW_SENDERS', features.payeeNewSenders, sends && BigInt(features.payeeNewSenders) >= rules.PAYEE_MANY_NEW_SENDERS.threshold);
  return fired;
}

/** Scores a send or withdrawal (on-ramps are only limited); null when the rules are off or do not apply. */
export async function scorePayment(db: Queryable, policy: FraudPolicy, payment: ScoredPayment, clientAddress: string | null): Promise<FraudDecision | null> {
  if (!policy.rules || payment.kind === 'ON_RAMP') return null;
  const features = await readFraudFeatures(db, { userId: payment.userId, payeeId: payment.payeeId, sessionTokenHash: payment.sessionTokenHash }, policy.rules);
  const rules = firedRules(policy.rules, features, payment, policy.limits);
  const score = rules.reduce((sum, rule) => sum + rule.weight, 0);
  return { score, rules, review: score >= policy.reviewScore, timeoutSeconds: policy.reviewTimeoutSeconds, clientAddress };
}

export const limitsArgument = (policy: FraudPolicy): string | null => (policy.limits ? JSON.stringify(limitsForDatabase(policy.limits)) : null);

/** SQLSTATE of zp_refuse_limit. */
const limitExceededState = 'ZP001';

/**
 * Turns zp_refuse_limit's error into LIMIT_EXCEEDED (with the limit in extensions) after recording it as
 * a security event (FAILED_BURST counts them); any other error is rethrown as is.
 */
export async function limitRefusal(db: Queryable, error: unknown, who: { userId: string; clientAddress: string | null; kind: TransactionKind }): Promise<never> {
  const pgError = error as { code?: string; detail?: string };
  if (pgError.code !== limitExceededState || !pgError.detail) throw error;
  const detail = JSON.parse(pgError.detail) as { limit: string; limitMinor: string; usedMinor: string; amountMinor: string; tier: string };
  await recordSecurityEvent(db, {
    kind: 'limit.refused', outcome: 'denied', userId: who.userId, actor: 'user', clientAddress: who.clientAddress, subject: detail.limit, details: { ...detail, kind: who.kind },
  });
  const left = BigInt(detail.limitMinor) - BigInt(detail.usedMinor);
  throw new AppError('LIMIT_EXCEEDED', `This payment is over your ${detail.limit} limit (${left > 0n ? left : 0n} paise left of ${detail.limitMinor})`, detail);
}

/** The policy the API's settings describe (README, "Fraud and limits"). */
export function fraudPolicyOf(config: Pick<ApiConfig, 'PAYMENT_LIMITS_ENABLED' | 'PAYMENT_LIMITS' | 'FRAUD_RULES_ENABLED' | 'FRAUD_RULES' | 'FRAUD_REVIEW_SCORE' | 'REVIEW_TIMEOUT_MS'>): FraudPolicy {
  return {
    limits: config.PAYMENT_LIMITS_ENABLED ? config.PAYMENT_LIMITS : null,
    rules: config.FRAUD_RULES_ENABLED ? config.FRAUD_RULES : null,
    reviewScore: config.FRAUD_REVIEW_SCORE,
    reviewTimeoutSeconds: Math.ceil(config.REVIEW_TIMEOUT_MS / 1000),
  };
}
