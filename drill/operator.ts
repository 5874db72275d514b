// The drill's operator: terminates running payment workflows (as a person might in the Temporal UI; the
// reconciler must then finish their transactions from the bank's word), and turns the bank's apiFaults
// (408 after doing the work, 429, 404 on reads by id) on for seeded windows.
import type { Client } from '@temporalio/client';
import type { BankControl } from './bank';
import type { ApiFaultWindow } from './plan';
import type { Random } from './random';

export interface Termination {
  workflowId: string;
  runId: string;
  workflowType: string;
  atMs: number;
}

export const paymentWorkflowTypes = ['onRampWorkflow', 'offRampWorkflow', 'transferWorkflow'] as const;

const candidatesMax = 200;
const terminateTriesMax = 5;
const findTriesMax = 20;
const findRetryDelayMs = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A visibility query for workflows of these types on the task queue. */
export function workflowsQuery(taskQueue: string, types: readonly string[], status?: string): string {
  const typeClause = types.map((type) => `WorkflowType = "${type}"`).join(' OR ');
  return `TaskQueue = "${taskQueue}" AND (${typeClause})${status ? ` AND ExecutionStatus = "${status}"` : ''}`;
}

/** Terminates one running payment workflow picked at random; null when none could be (none running, or all finished first). */
export async function terminateOne(temporal: Client, taskQueue: string, random: Random, startedAt: number): Promise<Termination | null> {
  for (let find = 0; find < findTriesMax; find++) {
    const running: Array<{ workflowId: string; runId: string; type: string }> = [];
    try {
      for await (const execution of temporal.workflow.list({ query: workflowsQuery(taskQueue, paymentWorkflowTypes, 'Running') })) {
        running.push({ workflowId: execution.workflowId, runId: execution.runId, type: execution.type });
        if (running.length >= candidatesMax) break;
      }
    } catch {
      // Temporal is restarting: look again.
    }
    running.sort((left, right) => left.workflowId.localeCompare(right.workflowId));
    for (let tries = 0; tries < terminateTriesMax && running.length > 0; tries++) {
      const [candidate] = running.splice(random.int(0, running.length - 1), 1);
      try {
        await temporal.workflow.getHandle(candidate!.workflowId, candidate!.runId).terminate('drill operator');
        return { workflowId: candidate!.workflowId, runId: candidate!.runId, workflowType: candidate!.type, atMs: Date.now() - startedAt };
      } catch {
        // It finished first (or Temporal is away): another one.
      }
    }
    await sleep(findRetryDelayMs);
  }
  return null;
}

/** One window of Bank API faults; resolves when it is closed again. */
export async function apiFaultWindow(bank: BankControl, window: ApiFaultWindow): Promise<void> {
  await bank.setApiFaults(window.rates);
  try {
    await sleep(window.durationMs);
  } finally {
    await bank.setApiFaults(null);
  }
}
