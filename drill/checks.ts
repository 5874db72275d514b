// The drill's invariants, checked once the system is quiet. Each returns the evidence of any
// violation (ids, expected against found); an empty list means the invariant holds.
import { Client, Connection } from '@temporalio/client';
import { auditLedger } from '../db/audit';
import { ledgerTransferId } from '../db/ledger';
import type { Pool } from '../db/pool';
import type { AcceptedPayment, DrillClient } from './client';

export interface CheckResult {
  name: string;
  violations: string[];
}

interface Row {
  id: string;
  kind: string;
  status: string;
  amount: bigint;
  user_id: string;
  counterparty_user_id: string | null;
  failure_code: string | null;
}

export interface Tally {
  lost: number;
  duplicated: number;
  created: number;
}

export interface CheckContext {
  pool: Pool;
  clients: readonly DrillClient[];
  bankUrl: string;
  temporalAddress: string;
  taskQueue: string;
}

const finalStatuses = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);

export async function runChecks(context: CheckContext): Promise<{ results: CheckResult[]; tally: Tally }> {
  const tally: Tally = { lost: 0, duplicated: 0, created: 0 };
  const accepted = context.clients.flatMap((client) => [...client.accepted.values()]);
  const { rows } = await context.pool.query<Row>(`SELECT id, kind, status, amount, user_id, counterparty_user_id, failure_code FROM transactions`);
  const byId = new Map(rows.map((row) => [row.id, row]));
  const { rows: movements } = await context.pool.query<{ id: string; transaction_id: string | null; kind: string; amount: bigint }>(
    `SELECT id, transaction_id, kind, amount FROM ledger_transfers`,
  );
  const movementsOf = new Map<string, typeof movements>();
  for (const movement of movements) {
    const key = movement.transaction_id ?? 'none';
    movementsOf.set(key, [...(movementsOf.get(key) ?? []), movement]);
  }

  const results: CheckResult[] = [];
  results.push(await ledgerSums(context.pool, tally));
  results.push(await walletsAndHolds(context.pool));
  results.push(transactionsAndMovements(accepted, rows, byId, movementsOf, context.clients, tally));
  results.push(await walletsMatchModels(context, tally));
  results.push(await bankAgrees(context, rows, movementsOf, tally));
  results.push(await workflowsSettled(context));
  results.push(subscriptionsExactlyOnce(context.clients, accepted, byId, tally));
  return { results, tally };
}

async function ledgerSums(pool: Pool, tally: Tally): Promise<CheckResult> {
  const audit = await auditLedger(pool);
  const violations: string[] = [];
  if (audit.postedSum !== 0n) violations.push(`posted balances sum to ${audit.postedSum}, not 0`);
  if (audit.pendingSum !== 0n) violations.push(`pending balances sum to ${audit.pendingSum}, not 0`);
  for (const id of audit.mismatchedAccounts) violations.push(`account ${id}: balances disagree with its transfers`);
  if (audit.postedSum !== 0n) tally.created += 1;
  return { name: '1 ledger sums to zero and balances equal their transfers', violations };
}

async function walletsAndHolds(pool: Pool): Promise<CheckResult> {
  const audit = await auditLedger(pool);
  const violations = audit.negativeWallets.map((id) => `wallet account ${id} is negative`);
  if (audit.heldTotal !== 0n) violations.push(`${audit.heldTotal} still held in wallets`);
  return { name: '2 no wallet negative, nothing held', violations };
}

/** What each final transaction must have moved in the ledger, by its transfer ids. */
function expectedMovements(row: Row): Record<string, string> {
  const id = (leg: string) => ledgerTransferId(row.id, leg);
  if (row.kind === 'TRANSFER') return row.status === 'COMPLETED' ? { [id('transfer')]: 'posted' } : {};
  if (row.kind === 'ON_RAMP') return row.status === 'COMPLETED' ? { [id('credit')]: 'posted' } : {};
  if (row.status === 'COMPLETED') return { [id('hold')]: 'pending', [id('post')]: 'post_pending' };
  // A failed withdrawal either never held (INSUFFICIENT_FUNDS) or held and voided.
  return row.failure_code === 'INSUFFICIENT_FUNDS' ? {} : { [id('hold')]: 'pending', [id('void')]: 'void_pending' };
}

function transactionsAndMovements(
  accepted: readonly AcceptedPayment[],
  rows: readonly Row[],
  byId: Map<string, Row>,
  movementsOf: Map<string, Array<{ id: string; kind: string; amount: bigint }>>,
  clients: readonly DrillClient[],
  tally: Tally,
): CheckResult {
  const violations: string[] = [];
  for (const payment of accepted) {
    const row = byId.get(payment.id);
    if (!row) {
      violations.push(`accepted ${payment.id} is not in the database`);
      tally.lost += 1;
    } else if (!finalStatuses.has(row.status)) violations.push(`${row.id} is still ${row.status}`);
  }
  const acceptedIds = new Set(accepted.map((payment) => payment.id));
  for (const row of rows) {
    if (!acceptedIds.has(row.id)) violations.push(`${row.id} (${row.kind}) exists but no client was told of it`);
    const expected = expectedMovements(row);
    const found = movementsOf.get(row.id) ?? [];
    const foundById = Object.fromEntries(found.map((movement) => [movement.id, movement.kind]));
    if (JSON.stringify(Object.entries(foundById).sort()) !== JSON.stringify(Object.entries(expected).sort())) {
      violations.push(`${row.id} ${row.kind} ${row.status}${row.failure_code ? ` ${row.failure_code}` : ''}: movements ${JSON.stringify(foundById)}, expected ${JSON.stringify(expected)}`);
      if (found.length > Object.keys(expected).length) tally.duplicated += 1;
      else tally.lost += 1;
    }
    for (const movement of found) {
      if (movement.amount !== row.amount) violations.push(`${row.id}: movement ${movement.id} of ${movement.amount}, transaction of ${row.amount}`);
    }
  }
  for (const movement of movementsOf.get('none') ?? []) violations.push(`ledger movement ${movement.id} has no transaction`);
  for (const client of clients) {
    for (const violation of client.idempotencyViolations) {
      violations.push(`idempotency key answered with two transactions: ${violation}`);
      tally.duplicated += 1;
    }
  }
  return { name: '3 every accepted transaction final once, with exactly its ledger movements', violations };
}

async function walletsMatchModels(context: CheckContext, tally: Tally): Promise<CheckResult> {
  const violations: string[] = [];
  // Each client's model: what its own records and the outcomes it was told add up to.
  const expected = new Map<string, bigint>(context.clients.map((client) => [client.user.id, 0n]));
  for (const client of context.clients) {
    for (const payment of client.accepted.values()) {
      const outcome = await client.fetchStatus(payment.id);
      if (!outcome || outcome.status !== 'COMPLETED') continue;
      const amount = BigInt(outcome.amount);
      if (payment.request.kind === 'ON_RAMP') expected.set(client.user.id, expected.get(client.user.id)! + amount);
      else expected.set(client.user.id, expected.get(client.user.id)! - amount);
      if (payment.request.kind === 'TRANSFER' && payment.counterpartyUserId) {
        expected.set(payment.counterpartyUserId, (expected.get(payment.counterpartyUserId) ?? 0n) + amount);
      }
    }
  }
  for (const client of context.clients) {
    const response = await fetch(client.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${client.user.token}` },
      body: JSON.stringify({ query: '{ viewer { wallet { available held } } }' }),
    });
    const wallet = ((await response.json()) as { data: { viewer: { wallet: { available: string; held: string } } } }).data.viewer.wallet;
    const want = expected.get(client.user.id)!;
    const have = BigInt(wallet.available) + BigInt(wallet.held);
    if (have !== want) {
      violations.push(`${client.user.name} (${client.user.id}): wallet ${have}, the client's records say ${want}`);
      if (have < want) tally.lost += 1;
      else tally.created += 1;
    }
  }
  return { name: "4 every wallet equals its clients' records", violations };
}

async function bankAgrees(
  context: CheckContext,
  rows: readonly Row[],
  movementsOf: Map<string, Array<{ id: string; kind: string }>>,
  tally: Tally,
): Promise<CheckResult> {
  const violations: string[] = [];
  for (const row of rows.filter((candidate) => candidate.kind !== 'TRANSFER')) {
    const path = row.kind === 'ON_RAMP' ? 'payments' : 'payouts';
    const response = await fetch(`${context.bankUrl}/v1/${path}?reference=${row.id}`);
    const bankStatus = response.status === 404 ? 'none' : ((await response.json()) as { status: string }).status;
    const moved = (movementsOf.get(row.id) ?? []).filter((movement) => movement.kind === 'posted' || movement.kind === 'post_pending').length;
    if (bankStatus === 'succeeded' && (row.status !== 'COMPLETED' || moved !== 1)) {
      violations.push(`${row.kind} ${row.id}: the bank says succeeded, ZenPAY says ${row.status} with ${moved} posted movements`);
      tally.lost += 1;
    }
    if (bankStatus !== 'succeeded' && row.status === 'COMPLETED') {
      violations.push(`${row.kind} ${row.id}: COMPLETED but the bank says ${bankStatus}`);
      tally.created += 1;
    }
  }
  return { name: '5 the bank and the ledger agree on every on-ramp and payout', violations };
}

async function workflowsSettled(context: CheckContext): Promise<CheckResult> {
  const violations: string[] = [];
  const connection = await Connection.connect({ address: context.temporalAddress });
  try {
    const client = new Client({ connection });
    for await (const execution of client.workflow.list({ query: `TaskQueue = "${context.taskQueue}" AND ExecutionStatus != "Completed"` })) {
      violations.push(`workflow ${execution.workflowId} is ${execution.status.name}`);
    }
  } finally {
    await connection.close();
  }
  return { name: '6 no workflow left running or failed', violations };
}

function subscriptionsExactlyOnce(clients: readonly DrillClient[], accepted: readonly AcceptedPayment[], byId: Map<string, Row>, tally: Tally): CheckResult {
  const violations: string[] = [];
  const clientOf = new Map(clients.map((client) => [client.user.id, client]));
  for (const payment of accepted) {
    const row = byId.get(payment.id);
    if (!row) continue;
    const parties = [row.user_id, ...(row.counterparty_user_id ? [row.counterparty_user_id] : [])];
    for (const party of parties) {
      const seen = clientOf.get(party)?.finalEvents.get(payment.id) ?? [];
      // A recipient learns of a transfer only once money moved: of a failed one, nothing at all.
      if (party === row.counterparty_user_id && row.status !== 'COMPLETED') {
        if (seen.length > 0) violations.push(`${clientOf.get(party)?.user.name ?? party} received ${JSON.stringify(seen)} for the sender's ${payment.id} (${row.status})`);
        continue;
      }
      if (seen.length !== 1 || seen[0] !== row.status) {
        violations.push(`${clientOf.get(party)?.user.name ?? party} received ${JSON.stringify(seen)} for ${payment.id} (${row.status})`);
        if (seen.length > 1) tally.duplicated += 1;
      }
    }
  }
  return { name: '7 every subscriber received every final status of theirs once', violations };
}
