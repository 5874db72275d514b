// Activities of on-ramps (addMoney) and off-ramps (withdraw). Bank calls and database transactions
// are separate steps (never a network call inside a transaction); each step is idempotent: it finds
// its own earlier effect by the transaction id and returns it.
import { ApplicationFailure } from '@temporalio/common';
import { failureCodes } from '../common/errors';
import { isFinalStatus, type PaymentOutcome, type PaymentWorkflowInput } from '../common/transactions';
import { createTransfer, ledgerTransferId, systemAccountId } from '../db/ledger';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import {
  appendWalletEvents,
  changeTransactionStatus,
  findTransaction,
  lockTransaction,
  type TransactionRow,
} from '../db/transactions';
import { BankClient, bankRejectedType, type BankObjectStatus } from './bank-client';
import { outcomeOf, walletAccountIds } from './transfer';

export interface BankActivityDependencies {
  pool: Pool;
  bank: BankClient;
  /** How long to wait for the bank's webhook before asking its status API. */
  decisionTimeoutMs: number;
}

/** What a workflow learns once the bank knows about the payment or payout. */
export interface BankStarted {
  /** Set when the transaction already ended (e.g. the bank rejected the request). */
  outcome: PaymentOutcome | null;
  bank: string;
  bankObjectId: string;
  amount: string;
  decisionTimeoutMs: number;
  deadlineAt: string;
}

export type BankDecision = Exclude<BankObjectStatus, 'pending'>;

function assertKind(transaction: TransactionRow, kind: TransactionRow['kind']): void {
  if (transaction.kind !== kind) {
    throw ApplicationFailure.nonRetryable(`transaction ${transaction.id} is a ${transaction.kind}, not ${kind}`, 'WRONG_KIND');
  }
}

async function loadTransaction(pool: Pool, id: string, kind: TransactionRow['kind']): Promise<TransactionRow> {
  const transaction = await findTransaction(pool, id);
  if (!transaction) throw ApplicationFailure.nonRetryable(`transaction ${id} does not exist`, 'MISSING_TRANSACTION');
  assertKind(transaction, kind);
  return transaction;
}

const isBankRejection = (error: unknown): boolean => error instanceof ApplicationFailure && error.type === bankRejectedType;

function started(transaction: TransactionRow, decisionTimeoutMs: number, outcome: PaymentOutcome | null): BankStarted {
  return {
    outcome,
    bank: transaction.bank!,
    bankObjectId: transaction.bankPaymentId ?? '',
    amount: String(transaction.amount),
    decisionTimeoutMs,
    deadlineAt: (transaction.bankDeadlineAt ?? new Date()).toISOString(),
  };
}

/** Marks the transaction AWAITING_BANK with the bank's id, page and deadline (once). */
async function recordAwaitingBank(
  deps: BankActivityDependencies,
  transactionId: string,
  bankObjectId: string,
  redirectUrl: string | null,
): Promise<TransactionRow> {
  return withTransaction(deps.pool, async (client) => {
    const transaction = await lockTransaction(client, transactionId);
    if (transaction.status !== 'PENDING') return transaction;
    return changeTransactionStatus(client, transaction, {
      status: 'AWAITING_BANK',
      bankPaymentId: bankObjectId,
      bankRedirectUrl: redirectUrl,
      bankDeadlineAt: new Date(Date.now() + deps.decisionTimeoutMs),
    });
  });
}

/** Ends a transaction without moving money (unless a hold must be voided first). */
async function endWithoutMoving(
  client: PoolClient,
  transaction: TransactionRow,
  status: 'FAILED' | 'EXPIRED',
  failureCode: string,
): Promise<PaymentOutcome> {
  if (isFinalStatus(transaction.status)) return outcomeOf(transaction);
  if (transaction.kind === 'OFF_RAMP') await voidHoldIfAny(client, transaction);
  return outcomeOf(await changeTransactionStatus(client, transaction, { status, failureCode }));
}

async function voidHoldIfAny(client: PoolClient, transaction: TransactionRow): Promise<void> {
  const result = await createTransfer(client, {
    id: ledgerTransferId(transaction.id, 'void'),
    kind: 'void_pending',
    pendingId: ledgerTransferId(transaction.id, 'hold'),
    transactionId: transaction.id,
  });
  if (result === 'created') await appendWalletEvents(client, [transaction.userId], transaction.id);
  else if (result !== 'pending_not_found' && result !== 'exists') {
    throw ApplicationFailure.nonRetryable(`cannot void hold of ${transaction.id}: ${result}`, 'LEDGER_BUG');
  }
}

/**
 * The first bank step of an ON_RAMP or OFF_RAMP: create the payment or payout (idempotent on the
 * reference), then record AWAITING_BANK; a request the bank rejects ends the transaction FAILED
 * with BANK_REJECTED (voiding a hold first). A transaction past PENDING returns where it stands.
 */
async function startAtBank(
  deps: BankActivityDependencies,
  transactionId: string,
  kind: 'ON_RAMP' | 'OFF_RAMP',
  create: (transaction: TransactionRow) => Promise<{ bankObjectId: string; redirectUrl: string | null }>,
): Promise<BankStarted> {
  const transaction = await loadTransaction(deps.pool, transactionId, kind);
  const finalOutcome = (row: TransactionRow) => (isFinalStatus(row.status) ? outcomeOf(row) : null);
  if (transaction.status !== 'PENDING') return started(transaction, deps.decisionTimeoutMs, finalOutcome(transaction));
  try {
    const { bankObjectId, redirectUrl } = await create(transaction);
    const updated = await recordAwaitingBank(deps, transaction.id, bankObjectId, redirectUrl);
    return started(updated, deps.decisionTimeoutMs, finalOutcome(updated));
  } catch (error) {
    if (!isBankRejection(error)) throw error;
    const outcome = await withTransaction(deps.pool, async (client) =>
      endWithoutMoving(client, await lockTransaction(client, transactionId), 'FAILED', failureCodes.bankRejected),
    );
    return started(transaction, deps.decisionTimeoutMs, outcome);
  }
}

export function createBankActivities(deps: BankActivityDependencies) {
  return {
    /** Creates the bank payment of an ON_RAMP and moves it to AWAITING_BANK with the bank's page. */
    startOnRamp: ({ transactionId }: PaymentWorkflowInput): Promise<BankStarted> =>
      startAtBank(deps, transactionId, 'ON_RAMP', async (transaction) => {
        const payment = await deps.bank.createPayment({ reference: transaction.id, amount: String(transaction.amount), bank: transaction.bank! });
        return { bankObjectId: payment.id, redirectUrl: payment.redirectUrl ?? null };
      }),

    /** Credits an approved ON_RAMP: one transfer from the bank's clearing account to the wallet. */
    async creditOnRamp({ transactionId }: PaymentWorkflowInput): Promise<PaymentOutcome> {
      return withTransaction(deps.pool, async (client) => {
        const transaction = await lockTransaction(client, transactionId);
        assertKind(transaction, 'ON_RAMP');
        if (isFinalStatus(transaction.status)) return outcomeOf(transaction);
        const clearing = await systemAccountId(client, 'bank_clearing', transaction.bank!);
        const [wallet] = await walletAccountIds(client, [transaction.userId]);
        const result = await createTransfer(client, {
          id: ledgerTransferId(transaction.id, 'credit'),
          kind: 'posted',
          debitAccountId: clearing,
          creditAccountId: wallet,
          amount: transaction.amount,
          transactionId: transaction.id,
        });
        if (result !== 'created' && result !== 'exists') {
          throw ApplicationFailure.nonRetryable(`cannot credit on-ramp ${transaction.id}: ${result}`, 'LEDGER_BUG');
        }
        return outcomeOf(await changeTransactionStatus(client, transaction, { status: 'COMPLETED' }, [transaction.userId]));
      });
    },

    /** Holds an OFF_RAMP's amount (a pending transfer): available drops, held rises, or INSUFFICIENT_FUNDS. */
    async holdWithdrawal({ transactionId }: PaymentWorkflowInput): Promise<PaymentOutcome | null> {
      return withTransaction(deps.pool, async (client) => {
        const transaction = await lockTransaction(client, transactionId);
        assertKind(transaction, 'OFF_RAMP');
        if (isFinalStatus(transaction.status)) return outcomeOf(transaction);
        const [wallet] = await walletAccountIds(client, [transaction.userId]);
        const clearing = await systemAccountId(client, 'bank_clearing', transaction.bank!);
        const result = await createTransfer(client, {
          id: ledgerTransferId(transaction.id, 'hold'),
          kind: 'pending',
          debitAccountId: wallet,
          creditAccountId: clearing,
          amount: transaction.amount,
          transactionId: transaction.id,
        });
        if (result === 'exceeds_credits') {
          return outcomeOf(await changeTransactionStatus(client, transaction, { status: 'FAILED', failureCode: failureCodes.insufficientFunds }));
        }
        if (result === 'created') await appendWalletEvents(client, [transaction.userId], transaction.id);
        else if (result !== 'exists') throw ApplicationFailure.nonRetryable(`cannot hold ${transaction.id}: ${result}`, 'LEDGER_BUG');
        return null;
      });
    },

    /** Creates the bank payout of a held OFF_RAMP and moves it to AWAITING_BANK. */
    startPayout: ({ transactionId }: PaymentWorkflowInput): Promise<BankStarted> =>
      startAtBank(deps, transactionId, 'OFF_RAMP', async (transaction) => {
        const payout = await deps.bank.createPayout({
          reference: transaction.id,
          amount: String(transaction.amount),
          bank: transaction.bank!,
          bankAccount: transaction.bankAccount!,
        });
        return { bankObjectId: payout.id, redirectUrl: null };
      }),

    /** Ends a held OFF_RAMP: the bank paid out (post the hold) or did not (void it: money back). */
    async settleWithdrawal({ transactionId, decision }: PaymentWorkflowInput & { decision: BankDecision }): Promise<PaymentOutcome> {
      return withTransaction(deps.pool, async (client) => {
        const transaction = await lockTransaction(client, transactionId);
        assertKind(transaction, 'OFF_RAMP');
        if (isFinalStatus(transaction.status)) return outcomeOf(transaction);
        if (decision === 'failed') return endWithoutMoving(client, transaction, 'FAILED', failureCodes.bankDeclined);
        const result = await createTransfer(client, {
          id: ledgerTransferId(transaction.id, 'post'),
          kind: 'post_pending',
          pendingId: ledgerTransferId(transaction.id, 'hold'),
          transactionId: transaction.id,
        });
        if (result !== 'created' && result !== 'exists') {
          throw ApplicationFailure.nonRetryable(`cannot post hold of ${transaction.id}: ${result}`, 'LEDGER_BUG');
        }
        return outcomeOf(await changeTransactionStatus(client, transaction, { status: 'COMPLETED' }, [transaction.userId]));
      });
    },

    /** Ends a transaction with no money moved: FAILED (declined) or EXPIRED (the bank never decided). */
    async endTransaction(input: PaymentWorkflowInput & { status: 'FAILED' | 'EXPIRED'; failureCode: string }): Promise<PaymentOutcome> {
      return withTransaction(deps.pool, async (client) =>
        endWithoutMoving(client, await lockTransaction(client, input.transactionId), input.status, input.failureCode),
      );
    },

    /** Asks the bank's status API (when no webhook came in time). */
    async bankStatus({ kind, bankObjectId }: { kind: 'payment' | 'payout'; bankObjectId: string }): Promise<BankObjectStatus> {
      const object = kind === 'payment' ? await deps.bank.getPayment(bankObjectId) : await deps.bank.getPayout(bankObjectId);
      return object.status;
    },
  };
}
