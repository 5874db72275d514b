// Every workflow the worker runs. Workflow code is deterministic: no I/O, only activity types.
export { transferWorkflow } from './transfer';
export { onRampWorkflow } from './on-ramp';
export { offRampWorkflow } from './off-ramp';
export { operatorActionWorkflow } from './operator-action';
export { reconcileWorkflow } from './reconcile';
export { eventRetentionWorkflow, reconcilerWorkflow, statementReconciliationWorkflow } from './reconciler';
export { scheduledPaymentRunWorkflow, scheduledPaymentSyncWorkflow } from './scheduled-payments';
