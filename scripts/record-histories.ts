// Records the event histories that workflows/replay.test.ts replays against the current workflow code,
// so a change that would break workflows already running fails CI. It starts a whole system of its
// own, runs one scenario of every workflow type and path (transfer; on-ramp approved, expired,
// reconciled and refunded; off-ramp paid, overdue with continue-as-new, terminated and reconciled; the
// reconciler and the retention job), and writes each history as JSON under workflows/histories/.
// Run it when a workflow changes on purpose (behind patched(), see the README): npm run record-histories
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workflowIdFor, reconcileWorkflowId } from '../common/transactions';
import { createPool } from '../db/pool';
import { fundWalletForTesting } from '../db/test-funding';
import { generousRateLimits } from '../system/generous-limits';
import { startLocalStack } from '../system/stack';
import { ensureTemporalCli, projectRoot } from '../system/temporal';
import { bankCall, controlBank } from '../test/bank';
import { graphql, signUpUser, transactionFields, type TestUser } from '../test/client';

const outputDir = path.join(projectRoot, 'workflows', 'histories');
const say = (message: string) => console.log(`[record-histories] ${message}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const stack = await startLocalStack({
    prefix: 'zenpay-histories',
    temporalPersistent: false,
    serviceEnv: { ...generousRateLimits, LOG_LEVEL: 'warn', BANK_DECISION_TIMEOUT_MS: '1500', BANK_UNAVAILABLE_AFTER_MS: '1000', RECONCILE_INTERVAL_MS: '1000', RECONCILE_STALE_AFTER_MS: '1000', EVENT_PRUNE_INTERVAL_MS: '2000' },
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

    mkdirSync(outputDir, { recursive: true });
    // The CLI writes the proto3 JSON that Worker.runReplayHistories reads back (historyFromJSON).
    const cli = ensureTemporalCli();
    for (const [name, workflowId, runId] of recorded) {
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

main().catch((error: unknown) => {
  console.error('[record-histories] failed:', error);
  process.exit(1);
});
