// The drill's own user at the bank: on-ramps and withdrawals made while the bank waits for a person (no
// auto-approval), then approved on the netbanking API at seeded moments around the on-ramp's deadline (just
// before, racing it, after it ended, after it ended with the bank unreachable at its deadline), or made the
// target of a forged webhook or signal while the payment or payout is still pending.
import type { Pool } from '../db/pool';
import { bankObjectByReference, bankRequest, type BankControl, type BankObject } from './bank';
import type { BankAction, DrillClient } from './client';
import { forgeSignal, forgeWebhook, type ForgedWord, type ForgeryContext, type ForgeryTarget } from './forgery';
import { targetsPayout, type ManualCase } from './plan';
import type { Random } from './random';

export interface BankUserContext extends ForgeryContext {
  client: DrillClient;
  pool: Pool;
  bankUrl: string;
  bank: BankControl;
  forged: ForgedWord[];
  log: (line: string) => void;
}

/** What became of each case, for the drill's report. */
export interface CaseResult {
  manualCase: ManualCase;
  transactionId: string | null;
  note: string;
}

const waitForBankMs = 10_000;
const waitForEndMs = 30_000;
const pollMs = 100;
const setUpAttemptsMax = 5;
const setUpRetryDelayMs = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const isFinal = (status: string | undefined) => status === 'COMPLETED' || status === 'FAILED' || status === 'EXPIRED';

/** Polls until read gives a value (or the time is up: null). */
async function poll<T>(read: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => null);
    if (value !== null || Date.now() > deadline) return value;
    await sleep(pollMs);
  }
}

/** The on-ramp's or payout's deadline once it waits for the bank; null if it ended first. */
async function deadlineOf(pool: Pool, transactionId: string): Promise<number | null> {
  const row = await poll(async () => {
    const { rows } = await pool.query<{ status: string; bank_deadline_at: Date | null }>(`SELECT status, bank_deadline_at FROM transactions WHERE id = $1`, [transactionId]);
    const found = rows[0];
    return found && (found.status === 'AWAITING_BANK' || isFinal(found.status)) ? found : null;
  }, waitForBankMs);
  return row?.status === 'AWAITING_BANK' && row.bank_deadline_at ? row.bank_deadline_at.getTime() : null;
}

/** Funds the client's wallet through an ordinary (auto-approved) on-ramp, so its withdrawals can be held. */
export async function fundBankUser(context: BankUserContext, amount: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const outcome = await context.client.send(context.client.newRequest('ON_RAMP', amount, { bank: 'HDFC' }));
    if (!outcome.accepted) continue;
    const status = await poll(async () => {
      const found = await context.client.fetchStatus(outcome.accepted!.id);
      return isFinal(found?.status) ? found!.status : null;
    }, waitForEndMs);
    if (status === 'COMPLETED') return;
  }
  context.log(`drill: ${context.client.user.name} could not fund its wallet; its withdrawals will fail INSUFFICIENT_FUNDS`);
}

/** Opens a window with no auto-approval, makes the on-ramp or withdrawal, and waits until the bank has it pending. */
async function makePendingAtBank(context: BankUserContext, manualCase: ManualCase): Promise<{ transactionId: string; object: BankObject } | string> {
  const payout = targetsPayout(manualCase);
  const close = await context.bank.openManualWindow();
  try {
    const request = payout
      ? context.client.newRequest('OFF_RAMP', manualCase.amount, { bank: 'ICICI', bankAccount: '000123456789' })
      : context.client.newRequest('ON_RAMP', manualCase.amount, { bank: 'SBI' });
    const outcome = await context.client.send(request);
    if (!outcome.accepted) return `refused ${outcome.refusedCode}`;
    const transactionId = outcome.accepted.id;
    const object = await poll(() => bankObjectByReference(context.bankUrl, payout ? 'payouts' : 'payments', transactionId), waitForBankMs);
    if (!object) return `${transactionId}: never reached the bank`;
    return { transactionId, object };
  } finally {
    await close();
  }
}

/** The case's transaction waiting for the bank, its object pending there, and its deadline; or why not. */
async function setUp(context: BankUserContext, manualCase: ManualCase): Promise<{ target: ForgeryTarget; deadlineMs: number } | string> {
  const made = await makePendingAtBank(context, manualCase);
  if (typeof made === 'string') return made;
  const kind = targetsPayout(manualCase) ? ('OFF_RAMP' as const) : ('ON_RAMP' as const);
  const deadlineMs = await deadlineOf(context.pool, made.transactionId);
  if (deadlineMs === null) return `${made.transactionId}: ended before it waited for the bank`;
  return { target: { transactionId: made.transactionId, kind, object: made.object }, deadlineMs };
}

/** The client approves its payment on the netbanking API and keeps what the bank answered. */
async function approve(context: BankUserContext, target: ForgeryTarget, plan: string, deadlineMs: number, statusBefore: string | null): Promise<BankAction> {
  const answer = await bankRequest(context.bankUrl, 'POST', `/v1/payments/${encodeURIComponent(target.object.id)}/approve`);
  if (answer.status !== 200 && answer.status !== 409) throw new Error(`approve ${target.object.id}: ${answer.status} ${JSON.stringify(answer.body)}`);
  // When the bank took the decision (a call made while the bank was down was retried until it was up).
  const at = Date.now();
  const action: BankAction = {
    transactionId: target.transactionId,
    paymentId: target.object.id,
    plan,
    atMs: at - context.startedAt,
    deadlineOffsetMs: at - deadlineMs,
    statusBefore,
    answer: answer.status === 200 ? 'approved' : 'refused',
    paymentStatus: answer.status === 200 ? answer.body.status : answer.body.payment?.status ?? 'unknown',
  };
  context.client.bankActions.set(target.transactionId, action);
  return action;
}

/** Waits until the client reads its transaction final; the status it read. */
async function waitForEnd(context: BankUserContext, transactionId: string): Promise<string | null> {
  return poll(async () => {
    const found = await context.client.fetchStatus(transactionId);
    return isFinal(found?.status) ? found!.status : null;
  }, waitForEndMs);
}

async function lateApproval(context: BankUserContext, random: Random, target: ForgeryTarget, plan: string, deadlineMs: number): Promise<string> {
  let statusBefore: string | null = null;
  if (plan === 'before') await sleep(deadlineMs - random.int(200, 900) - Date.now());
  if (plan === 'race') await sleep(deadlineMs + random.int(-50, 150) - Date.now());
  if (plan === 'after') {
    statusBefore = await waitForEnd(context, target.transactionId);
    await sleep(random.int(100, 1_500));
  }
  if (plan === 'after-unreachable') {
    // The bank's API answers 503 to everything from just before the deadline until the on-ramp ended, so
    // its payment cannot be canceled; the user's Approve (the page) still works afterwards.
    await sleep(deadlineMs - 400 - Date.now());
    const endOutage = await context.bank.openOutage();
    try {
      statusBefore = await waitForEnd(context, target.transactionId);
    } finally {
      await endOutage();
    }
    await sleep(random.int(100, 800));
  }
  const action = await approve(context, target, plan, deadlineMs, statusBefore);
  return `${plan}: ${action.answer} at deadline${action.deadlineOffsetMs >= 0 ? '+' : ''}${action.deadlineOffsetMs} ms (payment ${action.paymentStatus}, on-ramp was ${statusBefore ?? 'not read'})`;
}

/** Runs one case to its end; never throws (a case that could not be set up is reported as such). */
export async function runManualCase(context: BankUserContext, manualCase: ManualCase, random: Random): Promise<CaseResult> {
  try {
    // A fault or another case's outage may end the payment before it waits for the bank: try again a little later.
    let setting = await setUp(context, manualCase);
    for (let attempt = 1; typeof setting === 'string' && attempt < setUpAttemptsMax; attempt++) {
      context.log(`drill: ${manualCase.kind} not set up (${setting}); trying again`);
      await sleep(setUpRetryDelayMs);
      setting = await setUp(context, manualCase);
    }
    if (typeof setting === 'string') return { manualCase, transactionId: null, note: `not set up: ${setting}` };
    const { target, deadlineMs } = setting;
    if (manualCase.kind === 'late') return { manualCase, transactionId: target.transactionId, note: await lateApproval(context, random, target, manualCase.plan, deadlineMs) };
    const word = manualCase.kind === 'forged-webhook' ? await forgeWebhook(context, target, manualCase.variant) : await forgeSignal(context, target, manualCase.variant);
    context.forged.push(word);
    let note = `${word.channel} ${word.variant}: ${word.delivered ? 'delivered' : 'not delivered'} (${word.answer})`;
    if (manualCase.thenApprove && target.kind === 'ON_RAMP') {
      await sleep(deadlineMs - random.int(300, 1_200) - Date.now());
      const action = await approve(context, target, 'after a forged word', deadlineMs, null);
      note += `; then ${action.answer} (payment ${action.paymentStatus})`;
    }
    return { manualCase, transactionId: target.transactionId, note };
  } catch (error) {
    return { manualCase, transactionId: null, note: `failed: ${String(error)}` };
  }
}
