// Operator actions (reverse a transfer, refund an on-ramp, retry or close a stuck payment): their kinds,
// result codes and workflow ids, shared by the operator API, the activities and the workflow (so this
// file stays free of Node built-ins and I/O). A request is recorded in operator_action_requests first;
// the workflow `operator-<action id>` reads it from there and carries it out.

export const operatorActionKinds = ['REVERSE_TRANSFER', 'REFUND_ON_RAMP', 'RETRY_PAYMENT', 'CLOSE_PAYMENT'] as const;
export type OperatorActionKind = (typeof operatorActionKinds)[number];

export type OperatorActionStatus = 'RUNNING' | 'COMPLETED' | 'REFUSED';

/** What came of an action: shared constants, never strings typed twice. */
export const operatorActionResults = {
  /** A transfer reversed: recovered now, the rest (if any) owed by its recipient. */
  reversed: 'REVERSED',
  /** An on-ramp's money went back to the bank (the refund succeeded) and left the wallet. */
  refunded: 'REFUNDED',
  /** The bank refused or failed the refund: the hold went back to the wallet. */
  refundFailed: 'REFUND_FAILED',
  /** The payment's own workflow was started (it never ran). */
  workflowStarted: 'WORKFLOW_STARTED',
  /** A reconciliation was started: it asks the bank and finishes the payment. */
  reconciliationStarted: 'RECONCILIATION_STARTED',
  /** The payment's workflow is running: it is working on it already. */
  workflowRunning: 'WORKFLOW_RUNNING',
  /** A stuck payment ended FAILED with CLOSED_BY_OPERATOR (or the bank's own refusal), any hold released. */
  closed: 'CLOSED',
  /** The bank says it completed the payment: it was finished as COMPLETED, never closed. */
  bankCompleted: 'BANK_COMPLETED',
  /** The bank has not decided (e.g. a payout it may still pay): nothing can be closed yet. */
  bankPending: 'BANK_PENDING',
  /** The bank could not be asked: nothing is closed on no word. */
  bankUnavailable: 'BANK_UNAVAILABLE',
  /** The bank's object is not the transaction's own: for a person to look at. */
  bankMismatch: 'BANK_MISMATCH',
  insufficientFunds: 'INSUFFICIENT_FUNDS',
  alreadyReversed: 'ALREADY_REVERSED',
  alreadyRefunded: 'ALREADY_REFUNDED',
  /** Reversals and refunds apply to COMPLETED payments only. */
  notCompleted: 'NOT_COMPLETED',
  /** Retry and close apply to payments not yet final. */
  alreadyFinal: 'ALREADY_FINAL',
  /** The action does not apply to this kind of payment (e.g. reverseTransfer on an on-ramp). */
  wrongKind: 'WRONG_KIND',
} as const;
export type OperatorActionResult = (typeof operatorActionResults)[keyof typeof operatorActionResults];

/** The failure code of a payment an operator closed. */
export const closedByOperator = 'CLOSED_BY_OPERATOR';

export const operatorActionWorkflowId = (actionId: string): string => `operator-${actionId}`;

export interface OperatorActionInput {
  /** Only the id: what to do, on what, by whom and why is read from the database. */
  actionId: string;
}

/** An action as recorded by the operator API. */
export interface OperatorActionRequest {
  actionId: string;
  kind: OperatorActionKind;
  transactionId: string;
  /** The kind of the payment it names (TRANSFER, ON_RAMP, OFF_RAMP). */
  transactionKind: string;
  operator: string;
  reason: string;
}

export interface OperatorActionOutcome {
  actionId: string;
  status: Exclude<OperatorActionStatus, 'RUNNING'>;
  result: OperatorActionResult;
  details: Record<string, string | null>;
}
