// The ledger side of fraud review: where a payment's review stands, an operator's decision that came as
// a Temporal signal (recorded by zp_decide_review, as the operator API records its own), and the
// review's timeout (zp_expire_review, which rejects a payment still waiting and releases its hold).
import type { PaymentOutcome, TransactionStatus } from '../common/transactions';
import type { Pool } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import { ledgerStep } from './transfer';

export interface ReviewState {
  status: TransactionStatus;
  failureCode: string | null;
  /** When the review runs out; null when the payment has none (yet). */
  deadlineAt: string | null;
}

/** A decision as the workflow parsed it from a reviewDecision signal (workflows/review.ts). */
export interface SignalledDecision {
  decision: 'APPROVE' | 'REJECT';
  operator: string;
  reason: string;
}

export function createReviewActivities({ pool }: { pool: Pool }) {
  return {
    async reviewState({ transactionId }: { transactionId: string }): Promise<ReviewState> {
      const { rows } = await pool.query<{ status: TransactionStatus; failure_code: string | null; deadline_at: Date | null }>(
        `SELECT t.status, t.failure_code, d.review_deadline_at AS deadline_at FROM transactions t
         LEFT JOIN fraud_decisions d ON d.transaction_id = t.id WHERE t.id = $1`,
        [transactionId],
      );
      const row = rows[0];
      if (!row) throw new Error(`transaction ${transactionId} does not exist`);
      return { status: row.status, failureCode: row.failure_code, deadlineAt: row.deadline_at?.toISOString() ?? null };
    },

    /**
     * Records decisions signalled from the Temporal UI, each attributed to the operator it names (who must
     * have an active account: an unknown name is denied), and malformed signals, as security events. The
     * workflow then reads the status: the database's word, not the signal's, decides.
     */
    async recordSignalledDecisions(input: { transactionId: string; userId: string | null; decisions: SignalledDecision[]; malformed: string[] }): Promise<void> {
      for (const reason of input.malformed) {
        await recordSecurityEvent(pool, {
          kind: 'review.signal_malformed', outcome: 'ignored', userId: input.userId, actor: 'temporal-signal', subject: input.transactionId, details: { reason },
        });
      }
      for (const signalled of input.decisions) {
        const { rows } = await ledgerStep(() =>
          pool.query<{ result: string }>(`SELECT result FROM zp_decide_review($1, $2, $3, 'temporal-ui', $4, NULL)`, [
            input.transactionId,
            signalled.decision,
            signalled.operator,
            signalled.reason,
          ]),
        );
        if (rows[0]?.result === 'unknown_operator') {
          await recordSecurityEvent(pool, {
            kind: 'review.signal_denied', outcome: 'denied', userId: input.userId, actor: `temporal-signal:${signalled.operator}`, subject: input.transactionId,
            details: { reason: 'no active operator of this name', decision: signalled.decision },
          });
        }
      }
    },

    expireReview: ({ transactionId }: { transactionId: string }): Promise<PaymentOutcome> =>
      ledgerStep(async () => {
        const { rows } = await pool.query<{ outcome_status: TransactionStatus; outcome_failure_code: string | null }>(
          `SELECT * FROM zp_expire_review($1)`,
          [transactionId],
        );
        return { transactionId, status: rows[0]!.outcome_status, failureCode: rows[0]!.outcome_failure_code };
      }),
  };
}
