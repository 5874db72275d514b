// An operator's action, `operator-<action id>`: reverse a completed transfer, refund a completed on-ramp
// at the bank, retry or close a stuck payment. Its input is only the action id: what to do, on which
// payment, by whom and why is what the operator API recorded (an id no operator asked for does nothing).
// Every money step is one SQL function, idempotent on the action; the bank's word decides anything the
// bank knows (a payment is never closed when the bank completed it). The outcome is recorded and audited.
import { continueAsNew, proxyActivities, setCurrentDetails, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureCodes } from '../common/errors';
import {
  closedByOperator,
  operatorActionResults as results,
  type OperatorActionInput,
  type OperatorActionOutcome,
  type OperatorActionRequest,
  type OperatorActionResult,
} from '../common/operator-actions';
import { isFinalStatus, type PaymentOutcome } from '../common/transactions';
import { bankActivities as bank, ledgerActivities as ledger } from './bank-wait';
import { ledgerRetry } from './retry-policies';

const operator = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: ledgerRetry });

/** Looks at a refund this many times per run (then continues as new); the wait between looks doubles up to the max. */
const refundLooksPerRunMax = 10;
const refundLookIntervalMsMin = 1_000;
const refundLookIntervalMsMax = 30 * 60 * 1000;

export interface OperatorActionWorkflowInput extends OperatorActionInput {
  /** Refund looks made by earlier runs (continue-as-new). */
  refundLooks?: number;
}

type Ended = Pick<OperatorActionOutcome, 'status' | 'result'> & { details?: Record<string, string | null> };
const completed = (result: OperatorActionResult, details: Record<string, string | null> = {}): Ended => ({ status: 'COMPLETED', result, details });
const refused = (result: OperatorActionResult, details: Record<string, string | null> = {}): Ended => ({ status: 'REFUSED', result, details });

const actionIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function operatorActionWorkflow(input: OperatorActionWorkflowInput): Promise<OperatorActionOutcome | null> {
  // The input is parsed like any other: only an action id the operator API recorded does anything.
  const actionId = typeof input?.actionId === 'string' && actionIdPattern.test(input.actionId) ? input.actionId : null;
  const request = actionId ? await operator.loadOperatorAction({ actionId }) : null;
  if (!request) {
    // Started by someone other than the operator API (e.g. from the Temporal UI): nothing was asked.
    await bank.recordSecurityEvents([
      { kind: 'operator.action_unrequested', outcome: 'denied', actor: 'temporal', subject: String(input?.actionId).slice(0, 255), details: { reason: actionId ? 'no such request' : 'not an action id' } },
    ]);
    return null;
  }
  setCurrentDetails(`${request.kind} of ${request.transactionId} by ${request.operator}: ${request.reason}`);
  const kindNeeded = { REVERSE_TRANSFER: 'TRANSFER', REFUND_ON_RAMP: 'ON_RAMP' }[request.kind as string];
  const ended =
    kindNeeded && kindNeeded !== request.transactionKind ? refused(results.wrongKind, { kind: request.transactionKind })
    : request.kind === 'REVERSE_TRANSFER' ? await reverse(request)
    : request.kind === 'REFUND_ON_RAMP' ? await refund(request, input.refundLooks ?? 0)
    : request.kind === 'RETRY_PAYMENT' ? await retry(request)
    : await close(request);
  const outcome: OperatorActionOutcome = { actionId: request.actionId, status: ended.status, result: ended.result, details: ended.details ?? {} };
  await operator.finishOperatorAction(outcome);
  setCurrentDetails(`${request.kind} of ${request.transactionId}: ${outcome.status} ${outcome.result}`);
  return outcome;
}

async function reverse(request: OperatorActionRequest): Promise<Ended> {
  const { result, recovered, owed } = await operator.reverseTransfer({ actionId: request.actionId });
  if (result === 'reversed') return completed(results.reversed, { recovered, owed });
  if (result === 'already_reversed') return refused(results.alreadyReversed);
  return refused(results.notCompleted);
}

async function refund(request: OperatorActionRequest, looksBefore: number): Promise<Ended> {
  const held = await operator.holdOnRampRefund({ actionId: request.actionId });
  if (held.result === 'insufficient_funds') return refused(results.insufficientFunds, { amount: held.amount });
  if (held.result === 'already_refunded') return refused(results.alreadyRefunded);
  if (held.result !== 'held') return refused(results.notCompleted);
  let status = await operator.requestOnRampRefund({ actionId: request.actionId });
  for (let looks = 0; status !== 'succeeded' && status !== 'failed'; looks++) {
    if (looks >= refundLooksPerRunMax) return continueAsNew<typeof operatorActionWorkflow>({ actionId: request.actionId, refundLooks: looksBefore + looks });
    setCurrentDetails(`Refund of ${request.transactionId} at the bank: ${status}; asking again`);
    await sleep(Math.min(refundLookIntervalMsMin * 2 ** Math.min(looksBefore + looks, 20), refundLookIntervalMsMax));
    // Never created at the bank (it could not be reached): ask again, idempotent on the reference.
    status = status === 'unavailable' || status === 'requested'
      ? await operator.requestOnRampRefund({ actionId: request.actionId })
      : await operator.confirmOnRampRefund({ actionId: request.actionId });
  }
  return status === 'succeeded' ? completed(results.refunded, { amount: held.amount }) : refused(results.refundFailed, { amount: held.amount });
}

async function retry(request: OperatorActionRequest): Promise<Ended> {
  const result = await operator.retryPayment({ actionId: request.actionId });
  return result === results.alreadyFinal ? refused(result) : completed(result);
}

/** The end a closed payment gets, or the end the bank's word gave it. */
const closedOrNot = (outcome: PaymentOutcome): Ended =>
  outcome.status === 'COMPLETED' ? refused(results.bankCompleted, { status: outcome.status })
  : isFinalStatus(outcome.status) ? completed(results.closed, { status: outcome.status, failureCode: outcome.failureCode })
  : refused(results.bankPending, { status: outcome.status });

async function close(request: OperatorActionRequest): Promise<Ended> {
  const transactionId = request.transactionId;
  const transaction = await bank.describeTransaction({ transactionId });
  if (!transaction || isFinalStatus(transaction.status)) return refused(results.alreadyFinal, { status: transaction?.status ?? null });
  // A live workflow is working on it, unless it only waits for the bank, which is asked here instead.
  const workflow = await operator.paymentWorkflowState({ transactionId });
  if (workflow === 'running' && transaction.status !== 'AWAITING_BANK') return refused(results.workflowRunning, { status: transaction.status });
  const end = (failureCode: string) => ledger.endTransaction({ transactionId, status: 'FAILED', failureCode });
  if (transaction.kind === 'TRANSFER') {
    const outcome = await end(closedByOperator);
    return outcome.failureCode === closedByOperator ? closedOrNot(outcome) : refused(results.alreadyFinal, { status: outcome.status });
  }
  const view = await bank.viewAtBank({ transactionId, kind: transaction.kind === 'ON_RAMP' ? 'payment' : 'payout' });
  if (view.status === 'unavailable') return refused(results.bankUnavailable);
  if (view.status === 'mismatch') return refused(results.bankMismatch, { bankObjectId: view.bankObjectId });
  // The bank never had it: nothing was taken or paid.
  if (!('bankObjectId' in view)) return closedOrNot(await end(closedByOperator));
  if (transaction.kind === 'OFF_RAMP') {
    if (view.status === 'pending') return refused(results.bankPending);
    const decision = view.status === 'succeeded' ? 'succeeded' : 'failed';
    return closedOrNot(await ledger.settleWithdrawal({ transactionId, bankObjectId: view.bankObjectId, decision }));
  }
  let status = view.status;
  if (status === 'pending') {
    // Canceled at the bank first: a later approval can no longer take money. Only a payment whose id
    // the transaction recorded can be canceled here; any other waits for a retry's reconciliation.
    if (!transaction.bankObjectId) return refused(results.bankPending);
    const after = await bank.cancelPayment({ transactionId });
    if (after === 'unavailable') return refused(results.bankUnavailable);
    status = after;
  }
  if (status === 'succeeded') return closedOrNot(await ledger.creditOnRamp({ transactionId, bankObjectId: view.bankObjectId, amount: view.amount }));
  if (status === 'failed') return closedOrNot(await end(failureCodes.bankDeclined));
  if (status === 'canceled') return closedOrNot(await end(closedByOperator));
  return refused(results.bankPending);
}
