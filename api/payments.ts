// The payment mutations' domain logic: validate, record the transaction under the client's
// idempotency key, make sure its workflow runs, and wait a bounded time for an answer worth giving.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { AppError, badInput } from '../common/errors';
import { postTransfer } from '../activities/transfer';
import { ensurePaymentWorkflow } from '../common/payment-workflows';
import { parsePhone } from '../common/phone';
import { isFinalStatus, workflowIdFor, type TransactionKind } from '../common/transactions';
import { ledgerTransferId } from '../db/ledger';
import type { Pool } from '../db/pool';
import { findTransaction, submitTransaction, type NewChallenge, type TransactionRow } from '../db/transactions';
import { findUserByPhone, type User } from './auth';
import { confirmPayment, newChallenge, sendChallengeCode, stepUpReason, type StepUpDependencies } from './step-up';
import { WakeSignal, type EventHub } from './event-hub';
import { loadTransaction } from './subscriptions';
import { limitRefusal, limitsArgument, scorePayment, type FraudPolicy } from './fraud';

export const noteLengthMax = 140;
export const idempotencyKeyLengthMax = 255;

export interface PaymentDependencies {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  /** Transfers start eagerly on this process's own worker (API_EAGER_START). */
  eagerStart?: boolean;
  /**
   * 'workflow' (always, in production): every payment runs as a Temporal workflow. 'inline' posts a
   * TRANSFER's ledger step inside the request instead: the benchmark's api-direct baseline, which
   * measures what the API layer alone costs.
   */
  transferExecution: 'workflow' | 'inline';
  hub: EventHub;
  mutationWaitMs: number;
  /** Step-up confirmation (api/step-up.ts). */
  confirmations: StepUpDependencies;
  /** Limits and fraud rules (api/fraud.ts). */
  fraud: FraudPolicy;
  /** Who asks: the session (for the NEW_SESSION rule) and address (for the security event log). */
  origin: { sessionTokenHash: Buffer | null; clientAddress: string | null };
}

export function validateIdempotencyKey(key: string): string {
  if (key.length < 1 || key.length > idempotencyKeyLengthMax) {
    throw badInput(`idempotencyKey must be 1 to ${idempotencyKeyLengthMax} characters`, 'idempotencyKey');
  }
  return key;
}

function validateNote(note: string | null | undefined): string | null {
  if (note === null || note === undefined) return null;
  if ([...note].length > noteLengthMax) throw badInput(`note is at most ${noteLengthMax} characters`, 'note');
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(note)) throw badInput('note cannot contain control characters', 'note');
  return note;
}

/** A digest of everything that defines a request, to tell a retry from a reuse of its key. */
function fingerprint(parts: readonly (string | null)[]): Buffer {
  return createHash('sha256').update(JSON.stringify(parts)).digest();
}

interface PaymentRequest {
  /** Chosen before recording, so that a confirmation code can be bound to it. */
  id?: string;
  confirmation?: NewChallenge | null;
  kind: TransactionKind;
  viewer: User;
  amount: bigint;
  idempotencyKey: string;
  counterpartyUserId: string | null;
  note: string | null;
  bank: string | null;
  bankAccount: string | null;
}

/** Records the transaction (or finds the earlier one with this key) and makes sure its workflow runs. */
async function submit(deps: PaymentDependencies, request: PaymentRequest, startWorkflow = true): Promise<TransactionRow & { created: boolean }> {
  const requestFingerprint = fingerprint([
    request.kind,
    String(request.amount),
    request.counterpartyUserId,
    request.note,
    request.bank,
    request.bankAccount,
  ]);
  const decision = await scorePayment(
    deps.pool,
    deps.fraud,
    { kind: request.kind, userId: request.viewer.id, amount: request.amount, payeeId: request.counterpartyUserId, sessionTokenHash: deps.origin.sessionTokenHash },
    deps.origin.clientAddress,
  );
  const { transaction, created } = await submitTransaction(deps.pool, {
    limits: limitsArgument(deps.fraud),
    decision,
    id: request.id ?? uuidv7(),
    confirmation: request.confirmation ?? null,
    kind: request.kind,
    userId: request.viewer.id,
    counterpartyUserId: request.counterpartyUserId,
    amount: request.amount,
    note: request.note,
    idempotencyKey: request.idempotencyKey,
    requestFingerprint,
    bank: request.bank,
    bankAccount: request.bankAccount,
  }).catch((error: unknown) => limitRefusal(deps.pool, error, { userId: request.viewer.id, clientAddress: deps.origin.clientAddress, kind: request.kind }));
  if (!created && !transaction.requestFingerprint.equals(requestFingerprint)) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This idempotencyKey was already used for a different request');
  }
  // Also on a retry: the first attempt may have crashed between recording and starting.
  if (startWorkflow && !isFinalStatus(transaction.status)) {
    await ensurePaymentWorkflow({ client: deps.temporal, taskQueue: deps.taskQueue, eager: deps.eagerStart }, transaction);
  }
  return Object.assign(transaction, { created });
}

/**
 * Records a payment that may need its user's confirmation: when the step-up policy asks for one, the
 * payment is recorded AWAITING_CONFIRMATION with a challenge bound to it, and an SMS code (for users
 * without an authenticator) goes out once it is recorded. A retry with the same key sends nothing again.
 */
async function submitWithStepUp(deps: PaymentDependencies, request: PaymentRequest, what: string, startWorkflow = true) {
  const reason = await stepUpReason(deps.confirmations, { userId: request.viewer.id, ...request });
  if (!reason) return submit(deps, request, startWorkflow);
  const id = uuidv7();
  const { challenge, code } = await newChallenge(deps.confirmations, request.viewer.id, id);
  const transaction = await submit(deps, { ...request, id, confirmation: challenge }, startWorkflow);
  if (transaction.created && code) {
    // A lost SMS leaves the payment waiting until its challenge expires (then EXPIRED): nothing moves.
    await sendChallengeCode(deps.confirmations, request.viewer.phone, id, code, what).catch(() => {});
  }
  return transaction;
}

/** Waiting for its user or an operator: the mutation answers at once, the events tell the rest. */
const awaitingConfirmation = (row: TransactionRow) => row.status === 'AWAITING_CONFIRMATION' || row.status === 'IN_REVIEW';

export function describeAmount(amount: bigint): string {
  const rupees = amount / 100n;
  const paise = String(amount % 100n).padStart(2, '0');
  return `Rs ${rupees.toLocaleString('en-IN')}.${paise}`;
}

/**
 * Waits until the transaction satisfies `settled` or the wait runs out, then returns the row as it is.
 * Woken by the outbox's notifications that name this transaction; reads the row itself each time.
 */
export async function awaitTransaction(
  deps: Pick<PaymentDependencies, 'pool' | 'hub'>,
  transactionId: string,
  settled: (transaction: TransactionRow) => boolean | Promise<boolean>,
  waitMs: number,
): Promise<TransactionRow> {
  const signal = new WakeSignal();
  const unwatch = deps.hub.watchTransaction(transactionId, signal.wake);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      const transaction = await loadTransaction(deps.pool, transactionId);
      if (!transaction) throw new Error(`transaction ${transactionId} vanished`);
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 || (await settled(transaction))) return transaction;
      await signal.wait(remainingMs);
    }
  } finally {
    unwatch();
  }
}

export interface SendMoneyInput {
  toPhone: string;
  amount: bigint;
  note?: string | null;
  idempotencyKey: string;
}

export async function sendMoney(deps: PaymentDependencies, viewer: User, input: SendMoneyInput): Promise<TransactionRow> {
  const idempotencyKey = validateIdempotencyKey(input.idempotencyKey);
  const note = validateNote(input.note);
  const toPhone = parsePhone(input.toPhone, 'toPhone');
  const recipient = await findUserByPhone(deps.pool, toPhone);
  if (!recipient) throw badInput('No ZenPAY user has this phone number', 'toPhone');
  if (recipient.id === viewer.id) throw badInput('You cannot send money to yourself', 'toPhone');
  const inline = deps.transferExecution === 'inline';
  const transaction = await submitWithStepUp(
    deps,
    { kind: 'TRANSFER', viewer, amount: input.amount, idempotencyKey, counterpartyUserId: recipient.id, note, bank: null, bankAccount: null },
    `paying ${describeAmount(input.amount)} to ${maskPhone(recipient.phone)}`,
    !inline,
  );
  if (awaitingConfirmation(transaction)) return transaction;
  if (inline) {
    await postTransfer(deps.pool, { transactionId: transaction.id });
    return (await findTransaction(deps.pool, transaction.id))!;
  }
  return awaitTransaction(deps, transaction.id, (row) => isFinalStatus(row.status), deps.mutationWaitMs);
}

function validateBank(bank: string, supportedBanks: readonly string[]): string {
  if (!supportedBanks.includes(bank)) throw badInput(`bank must be one of ${supportedBanks.join(', ')}`, 'bank');
  return bank;
}

const bankAccountPattern = /^[A-Za-z0-9]{6,34}$/;

export interface AddMoneyInput {
  amount: bigint;
  bank: string;
  idempotencyKey: string;
}

/** Starts an ON_RAMP; answers once the bank's page is known (AWAITING_BANK) or it ended. */
export async function addMoney(
  deps: PaymentDependencies & { supportedBanks: readonly string[] },
  viewer: User,
  input: AddMoneyInput,
): Promise<TransactionRow> {
  const idempotencyKey = validateIdempotencyKey(input.idempotencyKey);
  const bank = validateBank(input.bank, deps.supportedBanks);
  const transaction = await submit(deps, {
    kind: 'ON_RAMP',
    viewer,
    amount: input.amount,
    idempotencyKey,
    counterpartyUserId: null,
    note: null,
    bank,
    bankAccount: null,
  });
  return awaitTransaction(deps, transaction.id, (row) => row.status !== 'PENDING', deps.mutationWaitMs);
}

export interface WithdrawInput {
  amount: bigint;
  bank: string;
  bankAccount: string;
  idempotencyKey: string;
}

/** Starts an OFF_RAMP; answers once the amount is held (or the withdrawal failed). */
export async function withdraw(
  deps: PaymentDependencies & { supportedBanks: readonly string[] },
  viewer: User,
  input: WithdrawInput,
): Promise<TransactionRow> {
  const idempotencyKey = validateIdempotencyKey(input.idempotencyKey);
  const bank = validateBank(input.bank, deps.supportedBanks);
  if (!bankAccountPattern.test(input.bankAccount)) {
    throw badInput('bankAccount is 6 to 34 letters and digits', 'bankAccount');
  }
  const transaction = await submitWithStepUp(
    deps,
    { kind: 'OFF_RAMP', viewer, amount: input.amount, idempotencyKey, counterpartyUserId: null, note: null, bank, bankAccount: input.bankAccount },
    `withdrawing ${describeAmount(input.amount)} to ${bank} account ending ${input.bankAccount.slice(-4)}`,
  );
  if (transaction.status === 'AWAITING_CONFIRMATION') return transaction;
  const holdId = ledgerTransferId(transaction.id, 'hold');
  // One in review is held by its workflow first, as any other.
  const held = async (row: TransactionRow) =>
    (row.status !== 'PENDING' && row.status !== 'IN_REVIEW') ||
    ((await deps.pool.query('SELECT 1 FROM ledger_transfers WHERE id = $1', [holdId])).rowCount ?? 0) > 0;
  return awaitTransaction(deps, transaction.id, held, deps.mutationWaitMs);
}

const maskPhone = (phone: string): string => `${phone.slice(0, 3)}•••••${phone.slice(-4)}`;

/**
 * confirmTransaction: checks the code of a payment waiting for its user, releases it, tells its
 * workflow (only a prompt: the workflow reads the status), and answers as sendMoney or withdraw would.
 */
export async function confirmTransaction(
  deps: PaymentDependencies,
  viewer: User,
  input: { id: string; code: string },
  clientAddress: string | null,
): Promise<TransactionRow> {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const found = uuid.test(input.id) ? await findTransaction(deps.pool, input.id.toLowerCase()) : null;
  if (!found || found.userId !== viewer.id) throw new AppError('NOT_FOUND', 'No payment of yours waits for this confirmation');
  if (found.status !== 'AWAITING_CONFIRMATION') return found;
  await confirmPayment(deps.confirmations, viewer, found.id, input.code, clientAddress);
  try {
    await deps.temporal.workflow.getHandle(workflowIdFor(found.kind, found.id)).signal('paymentConfirmed');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    await ensurePaymentWorkflow({ client: deps.temporal, taskQueue: deps.taskQueue }, (await findTransaction(deps.pool, found.id))!);
  }
  if (found.kind === 'TRANSFER') return awaitTransaction(deps, found.id, (row) => isFinalStatus(row.status) || row.status === 'IN_REVIEW', deps.mutationWaitMs);
  return awaitTransaction(deps, found.id, (row) => row.status !== 'PENDING', deps.mutationWaitMs);
}
