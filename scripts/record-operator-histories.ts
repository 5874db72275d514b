// The operator-action scenarios of scripts/record-histories.ts: a transfer reversed, a completed on-ramp
// refunded at the bank, a waiting on-ramp closed (canceled at the bank), and a retry of a payment already
// final, each through the operator API, so that workflows/replay.test.ts replays operatorActionWorkflow.
// Amounts stay under the review threshold the recorder's fraud rules use.
import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { createOperator, generateOperatorPassword } from '../api/operators';
import { operatorActionWorkflowId } from '../common/operator-actions';
import type { Pool } from '../db/pool';
import { fundWalletForTesting } from '../db/test-funding';
import { decideOnNetbankingPage } from '../test/bank';
import { graphql, signUpUser } from '../test/client';

export const operatorActionHistories = ['operator-reverse-transfer', 'operator-refund-on-ramp', 'operator-close-payment', 'operator-retry-final'];

export interface OperatorScenarioContext {
  client: Client;
  pool: Pool;
  api: string;
  smsSim: string;
  operatorUrl: string;
  recorded: Array<[string, string, string?]>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function recordOperatorActions(context: OperatorScenarioContext, say: (message: string) => void): Promise<void> {
  const operator = { name: `recorder-ops-${randomUUID().slice(0, 8)}`, password: generateOperatorPassword() };
  await createOperator(context.pool, operator.name, operator.password);
  const token: string = (await graphql(context.operatorUrl, `mutation($name: String!, $password: String!) { signIn(name: $name, password: $password) { token } }`, operator)).data.signIn.token;
  const [asha, ravi] = [await signUpUser(context.api, 'Ops Asha', context.smsSim), await signUpUser(context.api, 'Ops Ravi', context.smsSim)];
  await fundWalletForTesting(context.pool, asha.id, 10_000n);
  const call = async (field: string, query: string, variables: Record<string, unknown>, userToken: string, url = context.api) => {
    const answer = await graphql(url, query, variables, userToken);
    if (!answer.data?.[field]) throw new Error(`${field} failed: ${JSON.stringify(answer.errors)}`);
    return answer.data[field];
  };
  const act = async (name: string, action: string, transactionId: string) => {
    const run = await call(action, `mutation($id: ID!) { ${action}(transactionId: $id, reason: "recording") { id } }`, { id: transactionId }, token, context.operatorUrl);
    const handle = context.client.workflow.getHandle(operatorActionWorkflowId(run.id));
    await handle.result();
    context.recorded.push([name, operatorActionWorkflowId(run.id)]);
  };
  const status = async (id: string) => (await graphql(context.api, `query($id: ID!) { transaction(id: $id) { status } }`, { id }, asha.token)).data.transaction.status;
  const addMoney = async (amount: string) =>
    call('addMoney', `mutation($input: AddMoneyInput!) { addMoney(input: $input) { id bankRedirectUrl } }`, { input: { amount, bank: 'HDFC', idempotencyKey: randomUUID() } }, asha.token);

  say('operator actions: a transfer reversed');
  const sent = await call('sendMoney', `mutation($input: SendMoneyInput!) { sendMoney(input: $input) { id } }`, { input: { toPhone: ravi.phone, amount: '1000', idempotencyKey: randomUUID() } }, asha.token);
  await act('operator-reverse-transfer', 'reverseTransfer', sent.id);

  say('operator actions: a completed on-ramp refunded at the bank');
  const added = await addMoney('3000');
  await decideOnNetbankingPage(added.bankRedirectUrl, 'approve');
  for (let tries = 0; (await status(added.id)) !== 'COMPLETED'; tries++) {
    if (tries > 150) throw new Error('on-ramp never completed');
    await pause(200);
  }
  await act('operator-refund-on-ramp', 'refundOnRamp', added.id);

  say('operator actions: a waiting on-ramp closed, then a retry of it refused');
  const waiting = await addMoney('2000');
  await act('operator-close-payment', 'closePayment', waiting.id);
  await act('operator-retry-final', 'retryPayment', waiting.id);
}
