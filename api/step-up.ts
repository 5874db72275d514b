// Step-up confirmation of payments: above a threshold, to a new payee or to a new bank account, a
// payment waits in AWAITING_CONFIRMATION until its user confirms it with a second factor (their TOTP
// authenticator when two-factor is on, else a code sent by SMS to their verified phone). The challenge
// is bound to the exact payment (zp_payment_digest: kind, amount, currency, recipient or bank account,
// idempotency key) and its code to the payment's id; the ledger refuses to move its money before it.
import { createHmac, randomInt } from 'node:crypto';
import { badInput, AppError } from '../common/errors';
import type { Pool } from '../db/pool';
import { recordSecurityEvent } from '../db/security-events';
import type { NewChallenge } from '../db/transactions';
import type { SmsSender } from './sms';

export interface StepUpPolicy {
  /** Payments of more than this (minor units) need a confirmation; null: no amount threshold. */
  amountOverMinor: bigint | null;
  newPayee: boolean;
  newBankAccount: boolean;
  withinSeconds: number;
  attemptsMax: number;
}

export interface SecondFactor {
  isEnabled(userId: string): Promise<boolean>;
  /** Checks a TOTP (or recovery) code once; a time step is never accepted twice. */
  verify(userId: string, code: string, purpose: string): Promise<'ok' | 'wrong' | 'not_enrolled'>;
}

export interface StepUpDependencies {
  pool: Pool;
  sms: SmsSender;
  /** The key of the HMAC under which SMS codes are stored. */
  codeKey: string;
  stepUp: StepUpPolicy;
  secondFactor: SecondFactor;
}

export type StepUpReason = 'amount' | 'new_payee' | 'new_bank_account';

/** Why this payment needs its user's confirmation, or null when it does not. */
export async function stepUpReason(
  deps: StepUpDependencies,
  request: { userId: string; amount: bigint; counterpartyUserId: string | null; bank: string | null; bankAccount: string | null },
): Promise<StepUpReason | null> {
  const { stepUp } = deps;
  if (stepUp.amountOverMinor !== null && request.amount > stepUp.amountOverMinor) return 'amount';
  if (request.counterpartyUserId && stepUp.newPayee) {
    const { rowCount } = await deps.pool.query(
      `SELECT 1 FROM transactions WHERE user_id = $1 AND counterparty_user_id = $2 AND status = 'COMPLETED' LIMIT 1`,
      [request.userId, request.counterpartyUserId],
    );
    if (!rowCount) return 'new_payee';
  }
  if (request.bankAccount && stepUp.newBankAccount) {
    const { rowCount } = await deps.pool.query(
      `SELECT 1 FROM transactions WHERE user_id = $1 AND kind = 'OFF_RAMP' AND bank = $2 AND bank_account = $3 AND status = 'COMPLETED' LIMIT 1`,
      [request.userId, request.bank, request.bankAccount],
    );
    if (!rowCount) return 'new_bank_account';
  }
  return null;
}

const codeHash = (key: string, transactionId: string, code: string): Buffer =>
  createHmac('sha256', key).update(`zenpay-payment-code:${transactionId}:${code}`).digest();

/** A new challenge for the payment about to be recorded under transactionId; sendCode delivers an SMS code after the commit. */
export async function newChallenge(deps: StepUpDependencies, userId: string, transactionId: string): Promise<{ challenge: NewChallenge; code: string | null }> {
  const totp = await deps.secondFactor.isEnabled(userId);
  const code = totp ? null : String(randomInt(0, 1_000_000)).padStart(6, '0');
  return {
    code,
    challenge: {
      method: totp ? 'TOTP' : 'SMS',
      codeHash: code ? codeHash(deps.codeKey, transactionId, code) : null,
      withinSeconds: deps.stepUp.withinSeconds,
      attemptsMax: deps.stepUp.attemptsMax,
    },
  };
}

/** Sends the SMS code of a new challenge. The message says what it confirms; its only 6-digit run is the code. */
export async function sendChallengeCode(deps: StepUpDependencies, to: string, transactionId: string, code: string, what: string): Promise<void> {
  await deps.sms.send({
    to,
    reference: `confirm-${transactionId}`,
    body: `ZenPAY: ${code} confirms ${what}. It expires in ${Math.round(deps.stepUp.withinSeconds / 60)} min. Never share it.`,
  });
}

export interface ChallengeView {
  method: 'TOTP' | 'SMS';
  expiresAt: Date;
  attemptsLeft: number;
}

export async function findChallenge(pool: Pool, transactionId: string): Promise<ChallengeView | null> {
  const { rows } = await pool.query<{ method: 'TOTP' | 'SMS'; expires_at: Date; attempts_left: number }>(
    `SELECT method, expires_at, attempts_max - attempts AS attempts_left FROM payment_challenges WHERE transaction_id = $1`,
    [transactionId],
  );
  return rows[0] ? { method: rows[0].method, expiresAt: rows[0].expires_at, attemptsLeft: rows[0].attempts_left } : null;
}

const codePattern = /^[0-9]{6}$|^[A-Za-z0-9-]{8,32}$/;

/**
 * Checks the code against the payment's challenge and, when right, releases the payment (PENDING).
 * Wrong: BAD_USER_INPUT with attemptsLeft; the last wrong one ends the payment FAILED.
 */
export async function confirmPayment(
  deps: StepUpDependencies,
  viewer: { id: string },
  transactionId: string,
  code: string,
  clientAddress: string | null,
): Promise<'confirmed' | 'not_awaiting'> {
  if (!codePattern.test(code)) throw badInput('code is the 6 digits of the SMS or the authenticator (or a recovery code)', 'code');
  const challenge = await findChallenge(deps.pool, transactionId);
  if (!challenge) throw new AppError('NOT_FOUND', 'No payment of yours waits for this confirmation');
  let verified = false;
  if (challenge.method === 'TOTP') verified = (await deps.secondFactor.verify(viewer.id, code, `confirm payment ${transactionId}`)) === 'ok';
  const { rows } = await deps.pool.query<{ result: string }>(`SELECT zp_confirm_payment($1, $2, $3, $4) AS result`, [
    transactionId,
    viewer.id,
    verified,
    challenge.method === 'SMS' ? codeHash(deps.codeKey, transactionId, code) : null,
  ]);
  const result = rows[0]!.result;
  const record = (outcome: 'success' | 'failure' | 'denied') =>
    recordSecurityEvent(deps.pool, { kind: 'payment.confirmation', outcome, userId: viewer.id, actor: 'user', clientAddress, subject: transactionId, details: { result, method: challenge.method } });
  switch (result) {
    case 'confirmed':
      await record('success');
      return 'confirmed';
    case 'not_awaiting':
      return 'not_awaiting';
    case 'not_found':
      throw new AppError('NOT_FOUND', 'No payment of yours waits for this confirmation');
    case 'expired':
      await record('failure');
      throw new AppError('BAD_USER_INPUT', 'The confirmation expired: make the payment again', { field: 'code', reason: 'CONFIRMATION_EXPIRED' });
    case 'failed':
      await record('denied');
      throw new AppError('BAD_USER_INPUT', 'Too many wrong codes: the payment was canceled', { field: 'code', reason: 'CONFIRMATION_FAILED' });
    default:
      await record('failure');
      throw new AppError('BAD_USER_INPUT', 'Wrong code', { field: 'code', attemptsLeft: Math.max(challenge.attemptsLeft - 1, 0) });
  }
}
