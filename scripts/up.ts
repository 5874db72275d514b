// Brings the whole ZenPAY system up on this machine and keeps it in the foreground until Ctrl-C.
// Every setting can be overridden by environment; bad values stop it with a clear message.
import path from 'node:path';
import { z } from 'zod';
import { loadConfigOrExit } from '../common/config';
import { formatLogLine } from '../common/log-format';
import { runClusterProfile } from '../system/cluster-up';
import { startStack } from '../system/stack';
import { observersIfAsked, printAddresses, runUntilSignalled } from '../system/foreground';
import { observeConfigShape, observerRows } from '../system/observe';
import { projectRoot } from '../system/temporal';

const port = z.coerce.number().int().min(1).max(65535);
const upConfigSchema = z.object({
  ZENPAY_DATA_DIR: z.string().min(1).default(path.join(projectRoot, '.data')),
  ZENPAY_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(4000),
  BANK_SIM_PORT: port.default(4100),
  SMS_SIM_PORT: port.default(4300),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  POSTGRES_PORT: port.default(5433),
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(3).optional(),
  ZENPAY_QUIET: z.enum(['0', '1']).default('0'),
  TEMPORAL_METRICS_PORT: port.default(9404),
  ...observeConfigShape,
});

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--cluster' && arg !== '--observe');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')} (there are: --cluster, --observe)`);
  // The cluster profile (README, "Cluster profile"): Temporal on PostgreSQL, two API processes, two workers.
  if (args.includes('--cluster')) return runClusterProfile({ observe: args.includes('--observe') });
  const config = loadConfigOrExit(upConfigSchema);
  const dataDir = path.resolve(config.ZENPAY_DATA_DIR);
  const say = (message: string) => console.log(`[zenpay] ${message}`);
  const echo = config.ZENPAY_QUIET === '1' ? undefined : (name: string, line: string) => console.log(formatLogLine(name, line));
  // --observe: Jaeger before the system, Prometheus once the processes' metrics addresses are known.
  const observers = await observersIfAsked(args.includes('--observe'), config, dataDir, echo, say);
  const stack = await startStack({
    dataDir,
    host: config.ZENPAY_HOST,
    apiPort: config.API_PORT,
    bankSimPort: config.BANK_SIM_PORT,
    smsSimPort: config.SMS_SIM_PORT,
    temporalPort: config.TEMPORAL_PORT,
    temporalUiPort: config.TEMPORAL_UI_PORT,
    postgresPort: config.POSTGRES_PORT,
    databaseUrl: config.DATABASE_URL,
    temporalAddress: config.TEMPORAL_ADDRESS,
    temporalPersistent: true,
    metricsPorts: { temporal: config.TEMPORAL_METRICS_PORT },
    serviceEnv: observers?.serviceEnv ?? {},
    echo,
    progress: say,
  }).catch(async (error: unknown) => {
    await observers?.stop();
    throw error;
  });
  await observers
    ?.scrape(Object.fromEntries(Object.entries(stack.metricsUrls).filter((entry): entry is [string, string] => entry[1] !== null)))
    .catch(async (error: unknown) => {
      await stack.stop();
      await observers.stop();
      throw error;
    });
  const rows: Array<[string, string]> = [
    ['GraphQL (HTTP and WebSocket)', stack.urls.graphql],
    ['Bank webhooks', stack.urls.webhooks],
    ['Health', stack.urls.health],
    ['Bank simulator', stack.urls.bankSim],
    ['SMS simulator (inbox: /inbox/<phone>)', stack.urls.smsSim],
    ['Temporal frontend (gRPC)', stack.temporalAddress],
    ['Temporal Web UI', stack.urls.temporalUi ?? '(external Temporal: see its own UI)'],
    ['PostgreSQL', stack.databaseUrl.replace(/:[^:@/]*@/, ':***@')],
    ['Data and logs', dataDir],
    ['Metrics: API (overview: /metrics/overview)', stack.metricsUrls.api ?? 'off'],
    ['Metrics: worker (with Temporal SDK)', stack.metricsUrls.worker ?? 'off'],
    ['Metrics: bank and SMS simulators', `${stack.metricsUrls.bankSim ?? 'off'}  ${stack.metricsUrls.smsSim ?? 'off'}`],
    ['Metrics: Temporal dev server', stack.metricsUrls.temporal ?? '(external Temporal)'],
    ...observerRows(observers, 'npm start -- --observe'),
  ];
  printAddresses('ZenPAY is up', rows);

  runUntilSignalled(stack, observers, [stack.api, stack.worker, stack.bankSim, stack.smsSim], say);
}

main().catch((error: unknown) => {
  console.error(`[zenpay] failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
