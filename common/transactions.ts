// Transaction kinds and statuses shared by the API, the workflows and the activities.
// This file is imported by workflow code, so it must stay free of Node built-ins and I/O.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const transactionKinds = ['TRANSFER', 'ON_RAMP', 'OFF_RAMP'] as const;
export type TransactionKind = (typeof transactionKinds)[number];

export const transactionStatuses = ['PENDING', 'AWAITING_CONFIRMATION', 'IN_REVIEW', 'AWAITING_BANK', 'COMPLETED', 'FAILED', 'EXPIRED'] as const;
export type TransactionStatus = (typeof transactionStatuses)[number];

export const finalStatuses: ReadonlySet<TransactionStatus> = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);
export const isFinalStatus = (status: TransactionStatus): boolean => finalStatuses.has(status);

export const workflowTypeByKind = {
  TRANSFER: 'transferWorkflow',
  ON_RAMP: 'onRampWorkflow',
  OFF_RAMP: 'offRampWorkflow',
} as const satisfies Record<TransactionKind, string>;

const workflowIdPrefixByKind: Record<TransactionKind, string> = {
  TRANSFER: 'transfer',
  ON_RAMP: 'onramp',
  OFF_RAMP: 'offramp',
};

/** A workflow id derives from the transaction id: starting it twice can never run it twice. */
export const workflowIdFor = (kind: TransactionKind, transactionId: string): string =>
  `${workflowIdPrefixByKind[kind]}-${transactionId}`;

/** The reconciliation of a transaction (its one bank object has the transaction id as reference). */
export const reconcileWorkflowId = (transactionId: string): string => `reconcile-${transactionId}`;

/**
 * Custom search attributes, registered on the Temporal server, so operators can find a user's or a
 * transaction's workflows (e.g. `ZenpayUserId = "..." AND ZenpayStatus = "AWAITING_BANK"`).
 */
export const searchAttributes = {
  userId: defineSearchAttributeKey('ZenpayUserId', SearchAttributeType.KEYWORD),
  transactionId: defineSearchAttributeKey('ZenpayTransactionId', SearchAttributeType.KEYWORD),
  kind: defineSearchAttributeKey('ZenpayKind', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('ZenpayStatus', SearchAttributeType.KEYWORD),
  bank: defineSearchAttributeKey('ZenpayBank', SearchAttributeType.KEYWORD),
} as const;
/** The same, as the `temporal` CLI's NAME=Type pairs. */
export const searchAttributeDefinitions: readonly string[] = Object.values(searchAttributes).map(
  (key) => `${key.name}=Keyword`,
);

/** What a workflow receives: only ids; everything else is read from the database by its activities. */
export interface PaymentWorkflowInput {
  transactionId: string;
  /** Set when the payment waits for its user's second factor first (AWAITING_CONFIRMATION). */
  awaitConfirmation?: boolean;
  /**
   * Set when the payment is IN_REVIEW, or may go there once its user confirms it (AWAITING_CONFIRMATION):
   * it waits for an operator's decision (or the review's deadline) before anything moves.
   */
  awaitReview?: boolean;
}

export interface PaymentOutcome {
  transactionId: string;
  status: TransactionStatus;
  failureCode: string | null;
}
