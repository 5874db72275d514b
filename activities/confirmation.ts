// The ledger side of step-up confirmation: where a payment's confirmation stands, and its expiry (one
// SQL function, zp_expire_confirmation, which ends a payment still waiting and releases any hold).
import type { PaymentOutcome, TransactionStatus } from '../common/transactions';
import type { Pool } from '../db/pool';
import { ledgerStep } from './transfer';

export interface ConfirmationState {
  status: TransactionStatus;
  failureCode: string | null;
  /** When the challenge runs out; null when the payment has none. */
  expiresAt: string | null;
}

export function createConfirmationActivities({ pool }: { pool: Pool }) {
  return {
    async confirmationState({ transactionId }: { transactionId: string }): Promise<ConfirmationState> {
      const { rows } = await pool.query<{ status: TransactionStatus; failure_code: string | null; expires_at: Date | null }>(
        `SELECT t.status, t.failure_code, c.expires_at FROM transactions t
         LEFT JOIN payment_challenges c ON c.transaction_id = t.id WHERE t.id = $1`,
        [transactionId],
      );
      const row = rows[0];
      if (!row) throw new Error(`transaction ${transactionId} does not exist`);
      return { status: row.status, failureCode: row.failure_code, expiresAt: row.expires_at?.toISOString() ?? null };
    },

    expireConfirmation: ({ transactionId }: { transactionId: string }): Promise<PaymentOutcome> =>
      ledgerStep(async () => {
        const { rows } = await pool.query<{ outcome_status: TransactionStatus; outcome_failure_code: string | null }>(
          `SELECT * FROM zp_expire_confirmation($1)`,
          [transactionId],
        );
        return { transactionId, status: rows[0]!.outcome_status, failureCode: rows[0]!.outcome_failure_code };
      }),
  };
}
