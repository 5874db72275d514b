// `npm start -- --cluster`: the cluster profile in the foreground until Ctrl-C (Temporal server on
// PostgreSQL, two API processes behind one address, two workers, the simulators), state under .data/cluster.
import path from 'node:path';
import { z } from 'zod';
import { loadConfigOrExit } from '../common/config';
import { formatLogLine } from '../common/log-format';
import { startCluster } from './cluster';
import { superviseRestarts } from './supervise';
import { projectRoot } from './temporal';
import { historyShardsMax, temporalClusterPortsFrom } from './temporal-cluster';

const port = z.coerce.number().int().min(1).max(65535);
const clusterConfigSchema = z.object({
  ZENPAY_DATA_DIR: z.string().min(1).default(path.join(projectRoot, '.data')),
  ZENPAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** Shared by the API processes; each also listens on API_PORT + 1, + 2, … of its own. */
  API_PORT: port.default(4000),
  CLUSTER_APIS: z.coerce.number().int().min(1).max(16).default(2),
  CLUSTER_WORKERS: z.coerce.number().int().min(1).max(16).default(2),
  /** Only for a fresh cluster: the count is fixed when Temporal's schema is created. */
  TEMPORAL_HISTORY_SHARDS: z.coerce.number().int().min(1).max(historyShardsMax).optional(),
  BANK_SIM_PORT: port.default(4100),
  SMS_SIM_PORT: port.default(4300),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  POSTGRES_PORT: port.default(5433),
  /** The Temporal server's Prometheus endpoint (the same setting as the dev-server profile's). */
  TEMPORAL_METRICS_PORT: port.default(9404),
  ZENPAY_QUIET: z.enum(['0', '1']).default('0'),
});

export async function runClusterProfile(): Promise<void> {
  const config = loadConfigOrExit(clusterConfigSchema);
  const dataDir = path.resolve(config.ZENPAY_DATA_DIR, 'cluster');
  const say = (message: string) => console.log(`[zenpay] ${message}`);
  const apiInstancePorts = Array.from({ length: config.CLUSTER_APIS }, (_, index) => config.API_PORT + 1 + index);
  const cluster = await startCluster({
    dataDir,
    host: config.ZENPAY_HOST,
    apiPort: config.API_PORT,
    apiInstancePorts,
    workers: config.CLUSTER_WORKERS,
    bankSimPort: config.BANK_SIM_PORT,
    smsSimPort: config.SMS_SIM_PORT,
    postgresPort: config.POSTGRES_PORT,
    temporalPorts: temporalClusterPortsFrom(config.TEMPORAL_PORT, config.TEMPORAL_UI_PORT, config.TEMPORAL_METRICS_PORT),
    historyShards: config.TEMPORAL_HISTORY_SHARDS,
    echo: config.ZENPAY_QUIET === '1' ? undefined : (name, line) => console.log(formatLogLine(name, line)),
    progress: say,
  });
  const rows: Array<[string, string]> = [
    [`GraphQL (HTTP and WebSocket), ${cluster.apis.length} API processes`, cluster.urls.graphql],
    ...cluster.urls.apiGraphql.map((url, index): [string, string] => [`  api-${index + 1} alone`, url]),
    ['Bank webhooks', cluster.urls.webhooks],
    ['Health', cluster.urls.health],
    ['Bank simulator', cluster.urls.bankSim],
    ['SMS simulator (inbox: /inbox/<phone>)', cluster.urls.smsSim],
    [`Temporal frontend (gRPC), ${cluster.historyShards} history shards`, cluster.temporalAddress],
    ['Temporal Web UI', cluster.urls.temporalUi ?? '(not built here: see README, "Cluster profile")'],
    ['Temporal server metrics (Prometheus)', cluster.urls.temporalMetrics],
    ['Temporal workers', cluster.workers.map((worker) => worker.spec.name).join(', ')],
    ['PostgreSQL (ZenPAY, temporal, temporal_visibility)', cluster.databaseUrl.replace(/:[^:@/]*@/, ':***@')],
    ['Data and logs', dataDir],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\nZenPAY (cluster profile) is up:\n${rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n')}\n\nCtrl-C stops everything.\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    cluster.stop().then(
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
  superviseRestarts([cluster.temporal.server, ...cluster.apis, ...cluster.workers, cluster.bankSim, cluster.smsSim], { say, stopping: () => stopping });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
