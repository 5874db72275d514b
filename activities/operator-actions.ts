// The leaf work of operator actions (workflows/operator-action.ts): read the request the operator API
// recorded, take each ledger step as one SQL function (reverse a transfer, hold and settle an on-ramp's
// refund), ask the bank for the refund, find out whether a payment's own workflow runs and start what
// finishes a stuck payment, and record the outcome (audited in the same SQL transaction).
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { bankErrorTypes } from '../common/bank';
import {
  operatorActionResults as results,
  type OperatorActionKind,
  type OperatorActionOutcome,
  type OperatorActionRequest,
  type OperatorActionResult,
} from '../common/operator-actions';
import { ensurePaymentWorkflow, ensureReconciliation } from '../common/payment-workflows';
import { isFinalStatus, workflowIdFor } from '../common/transactions';
import type { Pool } from '../db/pool';
import { findTransaction } from '../db/transactions';
import { refundReference } from './bank-payments';
import { BankUnavailableError, type BankClient } from './bank-client';
import { ledgerStep } from './transfer';

export interface OperatorActionDependencies {
  pool: Pool;
  bank: BankClient;
  client: Client;
  taskQueue: string;
}

export type RefundProgress = 'requested' | 'pending' | 'succeeded' | 'failed' | 'unavailable';

const loadRequest = async (pool: Pool, actionId: string): Promise<OperatorActionRequest | null> => {
  const { rows } = await pool.query<{ kind: OperatorActionKind; transaction_id: string; transaction_kind: string; operator_name: string; reason: string }>(
    `SELECT r.kind, r.transaction_id, t.kind AS transaction_kind, r.operator_name, r.reason
     FROM operator_action_requests r JOIN transactions t ON t.id = r.transaction_id WHERE r.id = $1`,
    [actionId],
  );
  const row = rows[0];
  return row
    ? { actionId, kind: row.kind, transactionId: row.transaction_id, transactionKind: row.transaction_kind, operator: row.operator_name, reason: row.reason }
    : null;
};

/** The bank's word on a refund as the ledger records it (anything not decided is pending). */
const refundStatus = (status: string): 'pending' | 'succeeded' | 'failed' => (status === 'succeeded' || status === 'failed' ? status : 'pending');

async function recordRefund(pool: Pool, actionId: string, bankRefundId: string | null, status: 'pending' | 'succeeded' | 'failed'): Promise<RefundProgress> {
  const { rows } = await ledgerStep(() =>
    pool.query<{ status: RefundProgress }>(`SELECT zp_record_on_ramp_refund($1, $2, $3) AS status`, [actionId, bankRefundId, status]),
  );
  return rows[0]!.status;
}

/** Whether the payment's own workflow runs now: 'running', 'closed' (it ran and ended) or 'never' (none was started). */
async function ownWorkflow(client: Client, kind: Parameters<typeof workflowIdFor>[0], transactionId: string): Promise<'running' | 'closed' | 'never'> {
  try {
    const described = await client.workflow.getHandle(workflowIdFor(kind, transactionId)).describe();
    return described.status.name === 'RUNNING' ? 'running' : 'closed';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'never';
    throw error;
  }
}

export function createOperatorActionActivities({ pool, bank, client, taskQueue }: OperatorActionDependencies) {
  return {
    /** The request as the operator API recorded it; null when no operator asked for this id. */
    loadOperatorAction: ({ actionId }: { actionId: string }): Promise<OperatorActionRequest | null> => loadRequest(pool, actionId),

    /** Ends the action COMPLETED or REFUSED with its result, once; audited with it. */
    async finishOperatorAction(outcome: OperatorActionOutcome): Promise<void> {
      await ledgerStep(() =>
        pool.query(`SELECT zp_finish_operator_action($1, $2, $3, $4::jsonb)`, [outcome.actionId, outcome.status, outcome.result, JSON.stringify(outcome.details)]),
      );
    },

    /** One SQL function: back from the recipient what their balance allows, the rest a debt. */
    async reverseTransfer({ actionId }: { actionId: string }): Promise<{ result: string; recovered: string; owed: string }> {
      const { rows } = await ledgerStep(() =>
        pool.query<{ result: string; recovered: string; owed: string }>(`SELECT result, recovered::text, owed::text FROM zp_reverse_transfer($1)`, [actionId]),
      );
      return rows[0]!;
    },

    /** Holds a completed on-ramp's amount for its refund; 'held', or why not. */
    async holdOnRampRefund({ actionId }: { actionId: string }): Promise<{ result: string; bankPaymentId: string | null; amount: string }> {
      const { rows } = await ledgerStep(() =>
        pool.query<{ result: string; bank_payment_id: string | null; amount: string }>(
          `SELECT result, bank_payment_id, amount::text FROM zp_hold_on_ramp_refund($1)`,
          [actionId],
        ),
      );
      return { result: rows[0]!.result, bankPaymentId: rows[0]!.bank_payment_id, amount: rows[0]!.amount };
    },

    /**
     * Asks the bank to refund the held on-ramp (idempotent on the reference refund-<transaction id>) and
     * records its answer; a bank that refuses for good fails the refund (the hold goes back to the wallet).
     */
    async requestOnRampRefund({ actionId }: { actionId: string }): Promise<RefundProgress> {
      const request = await loadRequest(pool, actionId);
      if (!request) throw ApplicationFailure.nonRetryable(`operator action ${actionId} does not exist`, 'MISSING_TRANSACTION');
      const { rows } = await pool.query<{ bank_payment_id: string; amount: string }>(
        `SELECT bank_payment_id, amount::text FROM bank_refunds WHERE transaction_id = $1 AND operator_action_id = $2`,
        [request.transactionId, actionId],
      );
      const held = rows[0];
      if (!held) throw ApplicationFailure.nonRetryable(`operator action ${actionId} holds no refund`, 'LEDGER_BUG');
      try {
        const refund = await bank.createRefund({ payment: held.bank_payment_id, amount: held.amount, reference: refundReference(request.transactionId) });
        return await recordRefund(pool, actionId, refund.id, refundStatus(refund.status));
      } catch (error) {
        if (error instanceof BankUnavailableError) return 'unavailable';
        if (error instanceof ApplicationFailure && error.type === bankErrorTypes.rejected) return recordRefund(pool, actionId, null, 'failed');
        throw error;
      }
    },

    /** Asks the bank how the refund stands (a webhook is only a prompt) and records it. */
    async confirmOnRampRefund({ actionId }: { actionId: string }): Promise<RefundProgress> {
      const request = await loadRequest(pool, actionId);
      if (!request) throw ApplicationFailure.nonRetryable(`operator action ${actionId} does not exist`, 'MISSING_TRANSACTION');
      try {
        const refund = await bank.findRefund(refundReference(request.transactionId));
        if (!refund) return 'requested';
        return await recordRefund(pool, actionId, refund.id, refundStatus(refund.status));
      } catch (error) {
        if (error instanceof BankUnavailableError) return 'unavailable';
        throw error;
      }
    },

    /** Whether the payment's own workflow runs now. */
    async paymentWorkflowState({ transactionId }: { transactionId: string }): Promise<'running' | 'closed' | 'never'> {
      const transaction = await findTransaction(pool, transactionId);
      if (!transaction) throw ApplicationFailure.nonRetryable(`transaction ${transactionId} does not exist`, 'MISSING_TRANSACTION');
      return ownWorkflow(client, transaction.kind, transactionId);
    },

    /**
     * Retries a payment not yet final: a running workflow is left to its work; one never started is
     * started; otherwise a reconciliation asks the bank (or the ledger) and finishes it.
     */
    async retryPayment({ actionId }: { actionId: string }): Promise<OperatorActionResult> {
      const request = await loadRequest(pool, actionId);
      const transaction = request && (await findTransaction(pool, request.transactionId));
      if (!request || !transaction) throw ApplicationFailure.nonRetryable(`operator action ${actionId} names nothing`, 'MISSING_TRANSACTION');
      if (isFinalStatus(transaction.status)) return results.alreadyFinal;
      const target = { client, taskQueue };
      const state = await ownWorkflow(client, transaction.kind, transaction.id);
      if (state === 'running') return results.workflowRunning;
      if (state === 'never') {
        await ensurePaymentWorkflow(target, transaction);
        return results.workflowStarted;
      }
      await ensureReconciliation(target, transaction, `operator ${request.operator} retried: ${request.reason}`);
      return results.reconciliationStarted;
    },
  };
}
