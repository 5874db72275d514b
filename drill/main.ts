// `npm run drill`: runs the failure drill and exits non-zero on any violated invariant, printing the
// evidence. Options: --seed N --duration SECONDS --users N --think-ms N, the count of each process fault
// (--worker-kills ...) and of each attack (--late-approvals, --forged-webhooks, --forged-signals,
// --terminations, --api-fault-windows), and --review-share (the percentage of sends and withdrawals the
// fraud rules send to review). `--cluster` runs it against a fresh cluster profile instead of the dev
// profile (issue 15), shaped by --shards N --apis N --workers N; a kill then takes one seeded-random worker
// or API process while the others keep serving.
//
//   npm run drill -- [--cluster [--shards 4] [--apis 2] [--workers 2]] [--seed 42] [--duration 120] ...
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { historyShardsMax } from '../system/temporal-cluster';
import type { FaultKind } from './faults';
import { runDrill } from './run';

const optionsSchema = z.object({
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(42),
  duration: z.coerce.number().int().min(10).max(3_600).default(120),
  users: z.coerce.number().int().min(2).max(500).default(20),
  'think-ms': z.coerce.number().int().min(50).max(60_000).default(1_000),
  'review-share': z.coerce.number().int().min(0).max(100).default(6),
  'worker-kills': z.coerce.number().int().min(0).max(50).default(4),
  'api-kills': z.coerce.number().int().min(0).max(50).default(2),
  'temporal-restarts': z.coerce.number().int().min(0).max(10).default(1),
  'postgres-restarts': z.coerce.number().int().min(0).max(10).default(1),
  'bank-downs': z.coerce.number().int().min(0).max(10).default(1),
  'late-approvals': z.coerce.number().int().min(0).max(200).default(8),
  'forged-webhooks': z.coerce.number().int().min(0).max(200).default(6),
  'forged-signals': z.coerce.number().int().min(0).max(200).default(10),
  terminations: z.coerce.number().int().min(0).max(200).default(6),
  'api-fault-windows': z.coerce.number().int().min(0).max(20).default(2),
  // The cluster profile's shape (ignored without --cluster). Few history shards: the drill is about
  // failures, not capacity, and each shard is acquired again after every Temporal and PostgreSQL restart
  // and polls the database while idle; on a 2-core machine a fresh server with 512 took twice as long to
  // answer (5.6 s against 2.7 s with 4). Four still spread the workflows over several shards.
  shards: z.coerce.number().int().min(1).max(historyShardsMax).default(4),
  apis: z.coerce.number().int().min(1).max(8).default(2),
  workers: z.coerce.number().int().min(1).max(8).default(2),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(Object.keys(optionsSchema.shape).map((name) => [name, { type: 'string' as const }])),
      cluster: { type: 'boolean', default: false },
    },
  });
  const { cluster, ...valued } = values;
  const parsed = optionsSchema.safeParse(valued);
  if (!parsed.success) {
    console.error(`drill: bad options:\n${parsed.error.issues.map((issue) => `  --${issue.path.join('.')}: ${issue.message}`).join('\n')}`);
    process.exit(2);
  }
  const options = parsed.data;
  const counts: Record<FaultKind, number> = {
    'worker-kill': options['worker-kills'],
    'api-kill': options['api-kills'],
    'temporal-restart': options['temporal-restarts'],
    'postgres-restart': options['postgres-restarts'],
    'bank-down': options['bank-downs'],
  };
  const report = await runDrill({
    seed: options.seed,
    durationMs: options.duration * 1_000,
    users: options.users,
    thinkTimeMs: options['think-ms'],
    reviewShare: options['review-share'] / 100,
    faults: counts,
    cluster: cluster ? { historyShards: options.shards, apis: options.apis, workers: options.workers } : undefined,
    attacks: {
      lateApprovals: options['late-approvals'],
      forgedWebhooks: options['forged-webhooks'],
      forgedSignals: options['forged-signals'],
      terminations: options.terminations,
      apiFaultWindows: options['api-fault-windows'],
    },
    log: (line) => console.log(line),
  });
  console.log('\nfaults injected:');
  for (const fault of report.faults) console.log(`  +${(fault.atMs / 1000).toFixed(1)}s ${fault.kind}${fault.target ? ` ${fault.target}` : ''} (down ${fault.downMs} ms)`);
  const { attacks } = report;
  console.log('\nattacks:');
  for (const result of attacks.cases) console.log(`  +${(result.manualCase.atMs / 1000).toFixed(1)}s ${result.manualCase.kind} ${result.transactionId ?? '-'}: ${result.note}`);
  for (const termination of attacks.terminations) console.log(`  +${(termination.atMs / 1000).toFixed(1)}s terminated ${termination.workflowId} (${termination.workflowType})`);
  for (const window of attacks.plan.apiFaultWindows) console.log(`  +${(window.atMs / 1000).toFixed(1)}s apiFaults ${JSON.stringify(window.rates)} for ${window.durationMs} ms`);
  console.log(`  the bank injected ${JSON.stringify(attacks.apiFaultsInjected)}`);
  console.log('\nreviews (the simulated operator):');
  for (const review of attacks.reviews) {
    const attempts = review.attempts.map((attempt) => `${attempt.role} ${attempt.decision} via ${attempt.via} at +${(attempt.atMs / 1000).toFixed(1)}s: ${attempt.answer}${attempt.detail ? ` (${attempt.detail})` : ''}${attempt.retried ? ', retried' : ''}`);
    console.log(`  +${(review.seenAtMs / 1000).toFixed(1)}s ${review.kind} ${review.transactionId} ${review.amount}: ${review.plan}${attempts.length > 0 ? `; ${attempts.join('; ')}` : ''}`);
  }
  console.log('\ninvariants:');
  for (const result of report.results) {
    console.log(`  ${result.violations.length === 0 ? 'ok  ' : 'FAIL'} ${result.name}`);
    for (const violation of result.violations.slice(0, 20)) console.log(`         ${violation}`);
    if (result.violations.length > 20) console.log(`         ... and ${result.violations.length - 20} more`);
  }
  console.log(`\n${report.summary}`);
  process.exit(report.ok ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error('drill: crashed:', error);
  process.exit(1);
});
