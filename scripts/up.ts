// Brings the whole ZenPAY system up on this machine and keeps it in the foreground until Ctrl-C.
// Every setting can be overridden by environment; bad values stop it with a clear message.
import path from 'node:path';
import { z } from 'zod';
import { loadConfigOrExit } from '../common/config';
import { formatLogLine } from '../common/log-format';
import { runClusterProfile } from '../system/cluster-up';
import { startStack } from '../system/stack';
import { ensureJaeger, ensurePrometheus, startJaeger, startPrometheus, type RunningJaeger } from '../system/observe';
import { superviseRestarts } from '../system/supervise';
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
  /** 1: as `--observe` (traces to a Jaeger started here). */
  ZENPAY_OBSERVE: z.enum(['0', '1']).default('0'),
  TEMPORAL_METRICS_PORT: port.default(9404),
  JAEGER_QUERY_PORT: port.default(16686),
  JAEGER_OTLP_HTTP_PORT: port.default(4318),
  PROMETHEUS_PORT: port.default(9090),
});

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--cluster' && arg !== '--observe');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')} (there are: --cluster, --observe)`);
  // The cluster profile (README, "Cluster profile"): Temporal on PostgreSQL, two API processes, two workers.
  if (args.includes('--cluster')) return runClusterProfile();
  const config = loadConfigOrExit(upConfigSchema);
  const dataDir = path.resolve(config.ZENPAY_DATA_DIR);
  const say = (message: string) => console.log(`[zenpay] ${message}`);
  const echo = config.ZENPAY_QUIET === '1' ? undefined : (name: string, line: string) => console.log(formatLogLine(name, line));
  // --observe: Jaeger first, so that every process exports its traces to it from its first span.
  const observe = args.includes('--observe') || config.ZENPAY_OBSERVE === '1';
  let jaeger: RunningJaeger | null = null;
  if (observe) {
    say('making sure Jaeger is built (a first build takes 15 to 30 minutes)');
    const binary = ensureJaeger();
    say(`starting Jaeger (OTLP/HTTP on ${config.ZENPAY_HOST}:${config.JAEGER_OTLP_HTTP_PORT})`);
    jaeger = await startJaeger({
      binary,
      host: config.ZENPAY_HOST,
      queryPort: config.JAEGER_QUERY_PORT,
      otlpHttpPort: config.JAEGER_OTLP_HTTP_PORT,
      dataDir: path.join(dataDir, 'jaeger'),
      echo,
    });
  }
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
    serviceEnv: jaeger ? { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint } : {},
    echo,
    progress: say,
  }).catch(async (error: unknown) => {
    await jaeger?.process.close();
    throw error;
  });
  // --observe: a Prometheus server scraping every process (their addresses are known only now).
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | null = null;
  if (observe) {
    say('making sure the Prometheus server is built (a first build takes about 15 CPU-minutes)');
    const binary = ensurePrometheus();
    const targets = Object.fromEntries(Object.entries(stack.metricsUrls).filter((entry): entry is [string, string] => entry[1] !== null));
    prometheus = await startPrometheus({ binary, host: config.ZENPAY_HOST, port: config.PROMETHEUS_PORT, targets, dataDir: path.join(dataDir, 'prometheus'), echo });
  }
  const rows = [
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
    ['Traces (Jaeger query API)', jaeger ? `${jaeger.queryUrl}/api/traces?service=zenpay-api` : 'off (npm start -- --observe)'],
    ['Prometheus (query API)', prometheus ? `${prometheus.url}/api/v1/query?query=zenpay_payment_outcomes_total` : 'off (npm start -- --observe)'],
  ];
  const width = Math.max(...rows.map(([name]) => name!.length));
  console.log(`\nZenPAY is up:\n${rows.map(([name, value]) => `  ${name!.padEnd(width)}  ${value}`).join('\n')}\n\nCtrl-C stops everything.\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    stack
      .stop()
      .then(() => prometheus?.process.close())
      .then(() => jaeger?.process.close())
      .then(
        () => {
          say('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  superviseRestarts([stack.api, stack.worker, stack.bankSim, stack.smsSim], { say, stopping: () => stopping });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`[zenpay] failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
