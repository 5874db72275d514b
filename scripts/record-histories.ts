// Records the event histories that workflows/replay.test.ts replays against the current workflow code,
// so a change that would break workflows already running fails CI. It starts a whole system of its
// own, runs one scenario of every workflow type and path (transfer; on-ramp approved, expired,
// reconciled and refunded; off-ramp paid, overdue with continue-as-new, terminated and reconciled; the
// reconciler and the retention job; a scheduled payment's run and sync; fraud review: a transfer approved, rejected through the Temporal UI's
// signal, timed out, one confirmed then approved, a withdrawal approved), and writes each history as JSON
// under workflows/histories/. Run it when a workflow changes on purpose (behind patched(), see the README):
//   npm run record-histories                                   every history again
//   npm run record-histories -- --only transfer-review-approved,...   only these (the others keep the
//                                                              older code's histories, which replay must keep passing)
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { workflowIdFor, reconcileWorkflowId } from '../common/transactions';
import { scheduleSyncWorkflowIdFor } from '../common/scheduled-payments';
import { createOperator, generateOperatorPassword } from '../api/operators';
import { createPool, type Pool } from '../db/pool';
import { operatorActionHistories, recordOperatorActions } from './record-operator-histories';
import { fundWalletForTesting } from '../db/test-funding';
import { generousRateLimits } from '../system/generous-limits';
import { startLocalStack } from '../system/stack';
import { ensureTemporalCli, projectRoot } from '../system/temporal';
import { bankCall, controlBank } from '../test/bank';
import { graphql, latestCode, readCode, signUpUser, transactionFields, type TestUser } from '../test/client';

const outputDir = path.join(projectRoot, 'workflows', 'histories');
const say = (message: string) => console.log(`[record-histories] ${message}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The histories of the fraud-review scenarios (recordReviews). */
const reviewHistories = ['transfer-review-approved', 'transfer-review-rejected', 'transfer-review-timeout', 'transfer-confirmation-review', 'off-ramp-review-approved'];

/** The histories of the scheduled payment scenario (recordScheduledPayment). */
const scheduledPaymentHistories = ['scheduled-payment-run', 'scheduled-payment-sync'];

/** --only name,name: record only these histories (and run only the scenarios they need). */
function onlyNames(): Set<string> | null {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  return values.only ? new Set(values.only.split(',').map((name) => name.trim()).filter(Boolean)) : null;
}

async function main(): Promise<void> {
  const only = onlyNames();
  const stack = await startLocalStack({
    prefix: 'zenpay-histories',
    temporalPersistent: false,
    serviceEnv: {
      ...generousRateLimits,
      LOG_LEVEL: 'warn', BANK_DECISION_TIMEOUT_MS: '1500', BANK_UNAVAILABLE_AFTER_MS: '1000', RECONCILE_INTERVAL_MS: '1000', RECONCILE_STALE_AFTER_MS: '1000', EVENT_PRUNE_INTERVAL_MS: '2000',
      // Fraud review: a new user's first payment of 50.00 or more waits for an operator (none of the other
      // scenarios pays that much); above 85.00 its user confirms it first.
      FRAUD_RULES_ENABLED: 'true', FRAUD_RULES: 'FIRST_LARGE_AFTER_SIGN_UP.threshold=5000', FRAUD_REVIEW_SCORE: '50', REVIEW_TIMEOUT_MS: '4000', STEP_UP_AMOUNT_OVER: '8500',
    },
    progress: say,
  });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  const pool = createPool({ connectionString: stack.databaseUrl, max: 2, applicationName: 'zenpay-record-histories' });
  try {
    const bank = stack.urls.bankSim;
    const api = stack.urls.graphql;
    const [asha, ravi] = [await signUpUser(api, 'Asha', stack.urls.smsSim), await signUpUser(api, 'Ravi', stack.urls.smsSim)];
    await fundWalletForTesting(pool, asha!.id, 100_000n);
    const recorded: Array<[string, string, string?]> = [];
    const context: ScenarioContext = { client, pool, api, smsSim: stack.urls.smsSim, bank, operatorUrl: stack.urls.graphql.replace(/\/graphql$/, '/operator/graphql'), recorded };
    const pay = async (mutation: string, input: Record<string, unknown>, user: TestUser) => {
      const field = mutation.match(/^(\w+)/)![1]!;
      const response = await graphql(api, `mutation($input: ${inputType[field]}!) { ${field}(input: $input) { ${transactionFields} } }`, { input: { ...input, idempotencyKey: randomUUID() } }, user.token);
      if (!response.data?.[field]) throw new Error(`${field} failed: ${JSON.stringify(response.errors)}`);
      return response.data[field];
    };
    const settled = async (workflowId: string, name: string) => {
      const handle = client.workflow.getHandle(workflowId);
      for (let waited = 0; (await handle.describe()).status.name === 'RUNNING'; waited += 200) {
        if (waited > 60_000) throw new Error(`${workflowId} still running`);
        await pause(200);
      }
      recorded.push([name, workflowId]);
    };

    if (!only || [...only].some((name) => !reviewHistories.includes(name) && !operatorActionHistories.includes(name))) {
      say('transfer');
      const transfer = await pay('sendMoney', { toPhone: ravi!.phone, amount: '1500', note: 'lunch' }, asha!);
      await settled(workflowIdFor('TRANSFER', transfer.id), 'transfer-completed');

      say('on-ramp approved, and one that expires (canceled at the bank)');
      const approved = await pay('addMoney', { amount: '5000', bank: 'HDFC' }, asha!);
      await bankCall(bank, 'POST', `${new URL(approved.bankRedirectUrl).pathname.replace('/pay/', '/v1/payments/')}/approve`);
      await settled(workflowIdFor('ON_RAMP', approved.id), 'on-ramp-approved');
      const expired = await pay('addMoney', { amount: '5100', bank: 'HDFC' }, asha!);
      await client.workflow.getHandle(workflowIdFor('ON_RAMP', expired.id)).signal('bankOutcome', null);
      await settled(workflowIdFor('ON_RAMP', expired.id), 'on-ramp-expired-with-malformed-signal');

      say('on-ramp whose bank is down at its deadline, approved later: reconciled and refunded');
      const late = await pay('addMoney', { amount: '5200', bank: 'HDFC' }, asha!);
      await controlBank(bank, { apiErrorRate: 1 });
      await settled(workflowIdFor('ON_RAMP', late.id), 'on-ramp-bank-unavailable');
      await controlBank(bank, { apiErrorRate: 0, refundSettleMs: 200 });
      await bankCall(bank, 'POST', `${new URL(late.bankRedirectUrl).pathname.replace('/pay/', '/v1/payments/')}/approve`);
      await pause(1_000);
      await settled(reconcileWorkflowId(late.id), 'reconcile-refund');

      say('off-ramp paid; one overdue long enough to continue as new; one terminated and reconciled');
      await controlBank(bank, { payoutSettleMs: 200 });
      const paid = await pay('withdraw', { amount: '2000', bank: 'ICICI', bankAccount: '000123456789' }, asha!);
      await settled(workflowIdFor('OFF_RAMP', paid.id), 'off-ramp-paid');
      // Settles long after the deadline: five overdue polls, then the run continues as new (its first run is recorded).
      await controlBank(bank, { payoutSettleMs: 30_000 });
      const overdue = await pay('withdraw', { amount: '2100', bank: 'ICICI', bankAccount: '000123456789' }, asha!);
      const firstRun = (await client.workflow.getHandle(workflowIdFor('OFF_RAMP', overdue.id)).describe()).runId;
      await settled(workflowIdFor('OFF_RAMP', overdue.id), 'off-ramp-overdue-last-run');
      recorded.push(['off-ramp-overdue-continued-as-new', workflowIdFor('OFF_RAMP', overdue.id), firstRun]);
      await controlBank(bank, { payoutSettleMs: 2_000 });
      const terminated = await pay('withdraw', { amount: '2200', bank: 'ICICI', bankAccount: '000123456789' }, asha!);
      for (let tries = 0; (await graphql(api, `query($id: ID!) { transaction(id: $id) { status } }`, { id: terminated.id }, asha!.token)).data.transaction.status !== 'AWAITING_BANK'; tries++) {
        if (tries > 100) throw new Error('withdrawal never reached the bank');
        await pause(100);
      }
      await client.workflow.getHandle(workflowIdFor('OFF_RAMP', terminated.id)).terminate('recording an operator terminate');
      for (let tries = 0; ; tries++) {
        const found = await client.workflow.getHandle(reconcileWorkflowId(terminated.id)).describe().catch(() => null);
        if (found) break;
        if (tries > 100) throw new Error('no reconciliation started');
        await pause(200);
      }
      await settled(reconcileWorkflowId(terminated.id), 'reconcile-terminated-off-ramp');

      say('the reconciler and the retention job');
      for (const [name, workflowType] of [['reconciler', 'reconcilerWorkflow'], ['event-retention', 'eventRetentionWorkflow']] as const) {
        for await (const execution of client.workflow.list({ query: `WorkflowType = '${workflowType}' AND ExecutionStatus = 'Completed'` })) {
          recorded.push([name, execution.workflowId, execution.runId]);
          break;
        }
      }

      const statementId = `statement-${randomUUID()}`;
      await client.workflow.execute('statementReconciliationWorkflow', {
        taskQueue: 'zenpay-payments',
        workflowId: statementId,
        args: [{ from: new Date(Date.now() - 3600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() }],
      });
      recorded.push(['statement-reconciliation', statementId]);
    }
    if (!only || reviewHistories.some((name) => only.has(name))) await recordReviews(context);
    if (!only || operatorActionHistories.some((name) => only.has(name))) await recordOperatorActions(context, say);
    if (!only || scheduledPaymentHistories.some((name) => only.has(name))) await recordScheduledPayment(context, asha!, ravi!);

    mkdirSync(outputDir, { recursive: true });
    // The CLI writes the proto3 JSON that Worker.runReplayHistories reads back (historyFromJSON).
    const cli = ensureTemporalCli();
    for (const [name, workflowId, runId] of recorded.filter(([name]) => !only || only.has(name))) {
      const args = ['workflow', 'show', '--address', stack.temporalAddress, '--workflow-id', workflowId, '--output', 'json'];
      if (runId) args.push('--run-id', runId);
      const json = execFileSync(cli, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      writeFileSync(path.join(outputDir, `${name}.json`), json.endsWith('\n') ? json : `${json}\n`);
      say(`wrote ${name}.json (${(JSON.parse(json).events ?? []).length} events)`);
    }
  } finally {
    await pool.end();
    await connection.close();
    await stack.stop();
  }
}

const inputType: Record<string, string> = { sendMoney: 'SendMoneyInput', addMoney: 'AddMoneyInput', withdraw: 'WithdrawInput' };

interface ScenarioContext {
  client: Client;
  pool: Pool;
  api: string;
  smsSim: string;
  bank: string;
  operatorUrl: string;
  recorded: Array<[string, string, string?]>;
}

/** Waits until the workflow is closed, then adds its history to the recording. */
async function settle(context: ScenarioContext, workflowId: string, name: string): Promise<void> {
  const handle = context.client.workflow.getHandle(workflowId);
  for (let waited = 0; (await handle.describe()).status.name === 'RUNNING'; waited += 200) {
    if (waited > 60_000) throw new Error(`${workflowId} still running`);
    await pause(200);
  }
  context.recorded.push([name, workflowId]);
}

/** Waits until the payment's workflow waits for a review decision (its deadline's timer started after it read the review's state). */
async function waitingForReview(context: ScenarioContext, workflowId: string): Promise<void> {
  for (let waited = 0; ; waited += 200) {
    const events = (await context.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const looked = events.map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'reviewState').lastIndexOf(true);
    if (looked >= 0 && events.slice(looked).some((event) => event.timerStartedEventAttributes)) return;
    if (waited > 30_000) throw new Error(`${workflowId} never waited for a review`);
    await pause(200);
  }
}

/**
 * Fraud review's paths: each scenario's user is new, so its first payment of 50.00 or more is flagged
 * (FIRST_LARGE_AFTER_SIGN_UP). Decided through the operator API (an operator made as the command makes
 * one), through the Temporal UI's reviewDecision signal (a malformed one first), or by no one.
 */
async function recordReviews(context: ScenarioContext): Promise<void> {
  const operator = { name: `recorder-${randomUUID().slice(0, 8)}`, password: generateOperatorPassword() };
  await createOperator(context.pool, operator.name, operator.password);
  const signedIn = await graphql(context.operatorUrl, `mutation($name: String!, $password: String!) { signIn(name: $name, password: $password) { token } }`, operator);
  const token: string = signedIn.data.signIn.token;
  const decide = async (transactionId: string, decision: 'APPROVE' | 'REJECT', reason: string) => {
    const answer = await graphql(context.operatorUrl, `mutation($id: ID!, $decision: ReviewDecision!, $reason: String!) { decideReview(transactionId: $id, decision: $decision, reason: $reason) { outcome } }`, { id: transactionId, decision, reason }, token);
    if (!answer.data?.decideReview) throw new Error(`decideReview failed: ${JSON.stringify(answer.errors)}`);
  };
  const newUser = async (name: string) => {
    const user = await signUpUser(context.api, name, context.smsSim);
    await fundWalletForTesting(context.pool, user.id, 100_000n);
    return user;
  };
  const payee = await signUpUser(context.api, 'Payee', context.smsSim);
  const send = async (from: TestUser, amount: string, expected: string) => {
    const answer = await graphql(context.api, `mutation($input: SendMoneyInput!) { sendMoney(input: $input) { id status } }`, { input: { toPhone: payee.phone, amount, idempotencyKey: randomUUID() } }, from.token);
    if (answer.data?.sendMoney?.status !== expected) throw new Error(`sendMoney: expected ${expected}, got ${JSON.stringify(answer)}`);
    return answer.data.sendMoney.id as string;
  };

  say('review: a transfer approved through the operator API');
  const approved = await send(await newUser('Reviewed approved'), '6000', 'IN_REVIEW');
  await waitingForReview(context, workflowIdFor('TRANSFER', approved));
  await decide(approved, 'APPROVE', 'recording: called the user');
  await settle(context, workflowIdFor('TRANSFER', approved), 'transfer-review-approved');

  say('review: a transfer rejected through the Temporal UI signal, after a malformed one');
  const rejected = await send(await newUser('Reviewed rejected'), '6000', 'IN_REVIEW');
  const handle = context.client.workflow.getHandle(workflowIdFor('TRANSFER', rejected));
  await waitingForReview(context, workflowIdFor('TRANSFER', rejected));
  await handle.signal('reviewDecision', { decision: 'maybe', operator: operator.name, reason: 'x' });
  await handle.signal('reviewDecision', { decision: 'reject', operator: operator.name, reason: 'recording: not the user' });
  await settle(context, workflowIdFor('TRANSFER', rejected), 'transfer-review-rejected');

  say('review: a transfer no one decides (times out)');
  const timedOut = await send(await newUser('Reviewed timed out'), '6000', 'IN_REVIEW');
  await settle(context, workflowIdFor('TRANSFER', timedOut), 'transfer-review-timeout');

  say('review: a transfer its user confirms, then approved');
  const confirmer = await newUser('Reviewed confirmed');
  const before = await latestCode(context.smsSim, confirmer.phone);
  const confirmed = await send(confirmer, '9000', 'AWAITING_CONFIRMATION');
  const code = await readCode(context.smsSim, confirmer.phone, before);
  const answer = await graphql(context.api, `mutation($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { status } }`, { id: confirmed, code }, confirmer.token);
  if (answer.data?.confirmTransaction?.status !== 'IN_REVIEW') throw new Error(`confirmTransaction: ${JSON.stringify(answer)}`);
  await waitingForReview(context, workflowIdFor('TRANSFER', confirmed));
  await decide(confirmed, 'APPROVE', 'recording: confirmed by the user, known payee');
  await settle(context, workflowIdFor('TRANSFER', confirmed), 'transfer-confirmation-review');

  say('review: a withdrawal approved, then paid out');
  await controlBank(context.bank, { payoutSettleMs: 200 });
  const withdrawer = await newUser('Reviewed withdrawal');
  const withdrawn = await graphql(context.api, `mutation($input: WithdrawInput!) { withdraw(input: $input) { id status } }`, { input: { amount: '6000', bank: 'SBI', bankAccount: '000111222333', idempotencyKey: randomUUID() } }, withdrawer.token);
  if (withdrawn.data?.withdraw?.status !== 'IN_REVIEW') throw new Error(`withdraw: ${JSON.stringify(withdrawn)}`);
  await waitingForReview(context, workflowIdFor('OFF_RAMP', withdrawn.data.withdraw.id));
  await decide(withdrawn.data.withdraw.id, 'APPROVE', 'recording: their own account');
  await settle(context, workflowIdFor('OFF_RAMP', withdrawn.data.withdraw.id), 'off-ramp-review-approved');
}

/**
 * A scheduled payment: one run started by its Temporal Schedule (a ONCE instant a few seconds ahead), and
 * its sync workflow through pause, resume and delete.
 */
async function recordScheduledPayment(context: ScenarioContext, payer: TestUser, payee: TestUser): Promise<void> {
  say('a scheduled payment: one run on its Schedule, and its sync workflow through pause, resume and delete');
  const created = await graphql(context.api, `mutation($input: SchedulePaymentInput!) { schedulePayment(input: $input) { id } }`, {
    input: { toPhone: payee.phone, amount: '300', cadence: { kind: 'ONCE', at: new Date(Date.now() + 3_000).toISOString() }, idempotencyKey: randomUUID() },
  }, payer.token);
  if (!created.data?.schedulePayment) throw new Error(`schedulePayment failed: ${JSON.stringify(created.errors)}`);
  const scheduledId: string = created.data.schedulePayment.id;
  let runWorkflowId: string | null = null;
  for (let tries = 0; !runWorkflowId; tries++) {
    if (tries > 150) throw new Error('the scheduled payment never ran');
    await pause(200);
    for await (const execution of context.client.workflow.list({ query: `WorkflowType = 'scheduledPaymentRunWorkflow' AND ZenpayUserId = '${payer.id}'` })) {
      runWorkflowId = execution.workflowId;
      break;
    }
  }
  await settle(context, runWorkflowId, 'scheduled-payment-run');
  for (const mutation of ['pauseScheduledPayment(id: $id) { status }', 'resumeScheduledPayment(id: $id) { status }', 'deleteScheduledPayment(id: $id)']) {
    await graphql(context.api, `mutation($id: ID!) { ${mutation} }`, { id: scheduledId }, payer.token);
  }
  await settle(context, scheduleSyncWorkflowIdFor(scheduledId), 'scheduled-payment-sync');
}

main().catch((error: unknown) => {
  console.error('[record-histories] failed:', error);
  process.exit(1);
});
