// Reads what a payment's workflows did with the bankOutcome signals they received, from their Temporal
// histories: for each signal, whether a later look at the bank (the viewAtBank activity) took it, and what
// the bank said at that look. The drill uses it to tell which forged words the engine had to report.
import { defaultPayloadConverter, type Client } from '@temporalio/client';
import { reconcileWorkflowId, workflowIdFor, type TransactionKind } from '../common/transactions';

// temporal.api.enums.v1.EventType values.
const eventTypes = { activityScheduled: 10, activityCompleted: 12, signaled: 26 } as const;

export interface SignalSeen {
  workflowId: string;
  runId: string;
  /** The payload as the workflow received it (before its own parsing). */
  payload: unknown;
  /** The bank's answer at the first look after the signal (its view's status); null when no look took it. */
  lookedStatus: string | null;
  /** The run was terminated (its security events may never have been written). */
  runTerminated: boolean;
}

type HistoryEvent = {
  eventId?: unknown;
  eventType?: unknown;
  workflowExecutionSignaledEventAttributes?: { signalName?: string | null; input?: { payloads?: unknown[] | null } | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown; result?: { payloads?: unknown[] | null } | null } | null;
};

const idOf = (value: unknown): number => Number(String(value));
const decode = (payload: unknown): unknown => (payload ? defaultPayloadConverter.fromPayload(payload as never) : undefined);

function signalsOfRun(workflowId: string, runId: string, events: readonly HistoryEvent[], runTerminated: boolean): SignalSeen[] {
  const looks = events
    .filter((event) => Number(event.eventType) === eventTypes.activityScheduled && event.activityTaskScheduledEventAttributes?.activityType?.name === 'viewAtBank')
    .map((event) => idOf(event.eventId));
  const results = new Map<number, unknown>();
  for (const event of events) {
    const completed = event.activityTaskCompletedEventAttributes;
    if (Number(event.eventType) === eventTypes.activityCompleted && completed) results.set(idOf(completed.scheduledEventId), decode(completed.result?.payloads?.[0]));
  }
  const seen: SignalSeen[] = [];
  for (const event of events) {
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (Number(event.eventType) !== eventTypes.signaled || signal?.signalName !== 'bankOutcome') continue;
    // Signals recorded before a workflow task are in its activation, so the first look scheduled after
    // the signal's event is the one that took it from the inbox.
    const look = looks.find((lookId) => lookId > idOf(event.eventId));
    const view = look === undefined ? undefined : (results.get(look) as { status?: string } | undefined);
    seen.push({ workflowId, runId, payload: decode(signal.input?.payloads?.[0]) ?? null, lookedStatus: view?.status ?? null, runTerminated });
  }
  return seen;
}

/** Every bankOutcome signal any run of the transaction's workflow or of its reconciliation received. */
export async function signalsOf(temporal: Client, kind: TransactionKind, transactionId: string): Promise<SignalSeen[]> {
  const ids = [workflowIdFor(kind, transactionId), reconcileWorkflowId(transactionId)];
  const seen: SignalSeen[] = [];
  for await (const execution of temporal.workflow.list({ query: ids.map((id) => `WorkflowId = "${id}"`).join(' OR ') })) {
    const history = await temporal.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    seen.push(...signalsOfRun(execution.workflowId, execution.runId, (history.events ?? []) as HistoryEvent[], execution.status.name === 'TERMINATED'));
  }
  return seen;
}
