// Fraud and limits in PostgreSQL: what the rules read about a user, a payee and a session (one round
// trip), and the review queue and decisions operators read. Writes go through zp_* functions only.
import type { FraudRuleTable } from '../common/fraud-rules';
import type { VerificationTier } from '../common/limits';
import type { Queryable } from './pool';
import { transactionColumns, type TransactionRow } from './transactions';

export interface FraudFeatures {
  /** The user's sends and withdrawals (not failed) in VELOCITY_COUNT's window, before this one. */
  velocityCount: number;
  velocityAmount: bigint;
  /** Payees first paid within NEW_PAYEES' window, this payment's included. */
  newPayees: number;
  accountAgeSeconds: number;
  /** A completed send or withdrawal of at least FIRST_LARGE_AFTER_SIGN_UP's threshold before. */
  earlierLarge: boolean;
  sessionAgeSeconds: number | null;
  /** How long after sign-up the session started. */
  sessionAfterSignUpSeconds: number | null;
  tier: VerificationTier;
  failedRecently: number;
  /** Senders new to this payee within PAYEE_MANY_NEW_SENDERS' window, this one included. */
  payeeNewSenders: number;
}

export async function readFraudFeatures(
  db: Queryable,
  request: { userId: string; payeeId: string | null; sessionTokenHash: Buffer | null },
  rules: FraudRuleTable,
): Promise<FraudFeatures> {
  const { rows } = await db.query<{
    velocity_count: string; velocity_amount: bigint; new_payees: string; account_age_seconds: number; earlier_large: boolean;
    session_age_seconds: number | null; session_after_sign_up_seconds: number | null; tier: VerificationTier; failed_recently: string; payee_new_senders: string;
  }>(
    `SELECT
       (SELECT count(*) FROM transactions WHERE user_id = $1 AND kind IN ('TRANSFER', 'OFF_RAMP')
          AND status NOT IN ('FAILED', 'EXPIRED') AND created_at > now() - make_interval(secs => $4)) AS velocity_count,
       (SELECT coalesce(sum(amount), 0)::bigint FROM transactions WHERE user_id = $1 AND kind IN ('TRANSFER', 'OFF_RAMP')
          AND status NOT IN ('FAILED', 'EXPIRED') AND created_at > now() - make_interval(secs => $5)) AS velocity_amount,
       (SELECT count(*) FROM (
          SELECT counterparty_user_id AS payee FROM transactions
          WHERE user_id = $1 AND kind = 'TRANSFER' AND created_at > now() - make_interval(secs => $6)
          UNION SELECT $2::uuid WHERE $2::uuid IS NOT NULL) p
        WHERE NOT EXISTS (SELECT 1 FROM transactions o WHERE o.user_id = $1 AND o.counterparty_user_id = p.payee
          AND o.created_at <= now() - make_interval(secs => $6))) AS new_payees,
       (SELECT extract(epoch FROM now() - created_at)::float8 FROM users WHERE id = $1) AS account_age_seconds,
       EXISTS (SELECT 1 FROM transactions WHERE user_id = $1 AND kind IN ('TRANSFER', 'OFF_RAMP') AND status = 'COMPLETED'
          AND amount >= $7) AS earlier_large,
       (SELECT extract(epoch FROM now() - s.created_at)::float8 FROM sessions s WHERE s.token_hash = $3) AS session_age_seconds,
       (SELECT extract(epoch FROM s.created_at - u.created_at)::float8 FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.token_hash = $3) AS session_after_sign_up_seconds,
       coalesce((SELECT tier FROM user_tiers WHERE user_id = $1), 'NEW') AS tier,
       (SELECT count(*) FROM transactions WHERE user_id = $1 AND status = 'FAILED' AND created_at > now() - make_interval(secs => $8))
       + (SELECT count(*) FROM security_events WHERE user_id = $1 AND kind = 'limit.refused'
          AND occurred_at > now() - make_interval(secs => $8)) AS failed_recently,
       (SELECT count(*) FROM (
          SELECT user_id AS sender FROM transactions
          WHERE counterparty_user_id = $2 AND created_at > now() - make_interval(secs => $9)
          UNION SELECT $1::uuid WHERE $2::uuid IS NOT NULL) s
        WHERE $2::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transactions o WHERE o.counterparty_user_id = $2 AND o.user_id = s.sender
          AND o.created_at <= now() - make_interval(secs => $9))) AS payee_new_senders`,
    [
      request.userId,
      request.payeeId,
      request.sessionTokenHash,
      rules.VELOCITY_COUNT.windowSeconds,
      rules.VELOCITY_AMOUNT.windowSeconds,
      rules.NEW_PAYEES.windowSeconds,
      String(rules.FIRST_LARGE_AFTER_SIGN_UP.threshold),
      rules.FAILED_BURST.windowSeconds,
      rules.PAYEE_MANY_NEW_SENDERS.windowSeconds,
    ],
  );
  const row = rows[0]!;
  return {
    velocityCount: Number(row.velocity_count),
    velocityAmount: BigInt(row.velocity_amount),
    newPayees: Number(row.new_payees),
    accountAgeSeconds: row.account_age_seconds,
    earlierLarge: row.earlier_large,
    sessionAgeSeconds: row.session_age_seconds,
    sessionAfterSignUpSeconds: row.session_after_sign_up_seconds,
    tier: row.tier,
    failedRecently: Number(row.failed_recently),
    payeeNewSenders: Number(row.payee_new_senders),
  };
}

export interface FiredRule {
  name: string;
  weight: number;
  /** What was measured (a count, or an amount in paise), as a string. */
  value: string;
  threshold: string;
}

export interface ReviewRow {
  transaction: TransactionRow;
  score: number;
  rules: FiredRule[];
  deadlineAt: Date | null;
  outcome: 'APPROVED' | 'REJECTED' | 'TIMED_OUT' | null;
  reviewedBy: string | null;
  reason: string | null;
  reviewedAt: Date | null;
}

const reviewColumns = `d.score, d.rules, d.review_deadline_at AS "deadlineAt", d.review_outcome AS "outcome",
  d.reviewed_by AS "reviewedBy", d.review_reason AS "reason", d.reviewed_at AS "reviewedAt"`;

type ReviewQueryRow = TransactionRow & Omit<ReviewRow, 'transaction'>;

function toReview(row: ReviewQueryRow): ReviewRow {
  const { score, rules, deadlineAt, outcome, reviewedBy, reason, reviewedAt, ...transaction } = row;
  return { transaction, score, rules, deadlineAt, outcome, reviewedBy, reason, reviewedAt };
}

export const reviewPageMax = 100;

/** Payments waiting IN_REVIEW, the oldest deadline first. */
export async function listWaitingReviews(db: Queryable, first: number): Promise<ReviewRow[]> {
  const { rows } = await db.query<ReviewQueryRow>(
    `SELECT ${transactionColumns.replace(/(^|,\s*)([a-z_]+)/g, '$1t.$2')}, ${reviewColumns}
     FROM transactions t JOIN fraud_decisions d ON d.transaction_id = t.id
     WHERE t.status = 'IN_REVIEW' ORDER BY d.review_deadline_at, t.id LIMIT $1`,
    [Math.min(Math.max(first, 1), reviewPageMax)],
  );
  return rows.map(toReview);
}

/** The fraud decision of one payment (reviewed or not), or null when it was not scored. */
export async function findReview(db: Queryable, transactionId: string): Promise<ReviewRow | null> {
  const { rows } = await db.query<ReviewQueryRow>(
    `SELECT ${transactionColumns.replace(/(^|,\s*)([a-z_]+)/g, '$1t.$2')}, ${reviewColumns}
     FROM transactions t JOIN fraud_decisions d ON d.transaction_id = t.id WHERE t.id = $1`,
    [transactionId],
  );
  return rows[0] ? toReview(rows[0]) : null;
}

/** A user's payments (made or received, any status), newest first: what an operator looks at. */
export async function listUserPayments(db: Queryable, userId: string, first: number): Promise<TransactionRow[]> {
  const { rows } = await db.query<TransactionRow>(
    `SELECT ${transactionColumns} FROM transactions WHERE user_id = $1 OR counterparty_user_id = $1 ORDER BY seq DESC LIMIT $2`,
    [userId, Math.min(Math.max(first, 1), reviewPageMax)],
  );
  return rows;
}

export async function userTier(db: Queryable, userId: string): Promise<VerificationTier> {
  const { rows } = await db.query<{ tier: VerificationTier }>(`SELECT tier FROM user_tiers WHERE user_id = $1`, [userId]);
  return rows[0]?.tier ?? 'NEW';
}
