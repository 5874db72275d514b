// `npm start -- --cluster`: the cluster profile in the foreground until Ctrl-C (Temporal server on
// PostgreSQL, two API processes behind one address, two workers, the simulators), state under .data/cluster;
// with --observe, Jaeger and Prometheus beside it (system/observe.ts) as in the dev profile.
import path from 'node:path';
import { z } from 'zod';
import { loadConfigOrExit } from '../common/config';
import { formatLogLine } from '../common/log-format';
import { startCluster } from './cluster';
import { observersIfAsked, printAddresses, runUntilSignalled } from './foreground';
import { observeConfigShape, observerRows } from './observe';
import { projectRoot } from './temporal';
import { historyShardsMax, temporalClusterPortsFrom } from './temporal-cluster';

const port = z.coerce.number().int().min(1).max(65535);
const processesMax = 16;
const clusterConfigSchema = z.object({
  ZENPAY_DATA_DIR: z.string().min(1).default(path.join(projectRoot, '.data')),
  ZENPAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** Shared by the API processes; each also listens on API_PORT + 1, + 2, … of its own. */
  API_PORT: port.default(4000),
  CLUSTER_APIS: z.coerce.number().int().min(1).max(processesMax).default(2),
  CLUSTER_WORKERS: z.coerce.number().int().min(1).max(processesMax).default(2),
  /** Only for a fresh cluster: the count is fixed when Temporal's schema is created. */
  TEMPORAL_HISTORY_SHARDS: z.coerce.number().int().min(1).max(historyShardsMax).optional(),
  BANK_SIM_PORT: port.default(4100),
  SMS_SIM_PORT: port.default(4300),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  POSTGRES_PORT: port.default(5433),
  /** The Temporal server's Prometheus endpoint (the same setting as the dev-server profile's). */
  TEMPORAL_METRICS_PORT: port.default(9404),
  /** The processes' metrics ports: see clusterMetricsPort. */
  CLUSTER_METRICS_PORT_BASE: port.max(65_535 - 30 - processesMax).default(9400),
  ZENPAY_QUIET: z.enum(['0', '1']).default('0'),
  ...observeConfigShape,
});

/**
 * Each process's metrics port, fixed so that a Prometheus elsewhere can be pointed at them: from the base
 * (9400), the simulators at +2 and +3 as in the dev profile, api-N at +10+N, worker-N at +30+N (api-1 on
 * 9411, worker-2 on 9432). The Temporal server's is TEMPORAL_METRICS_PORT (9404).
 */
export function clusterMetricsPort(base: number): (processName: string) => number {
  return (processName) => {
    const numbered = /^(api|worker)-(\d+)$/.exec(processName);
    if (numbered && Number(numbered[2]) <= processesMax) return base + (numbered[1] === 'api' ? 10 : 30) + Number(numbered[2]);
    if (processName === 'bank-sim') return base + 2;
    if (processName === 'sms-sim') return base + 3;
    throw new Error(`no metrics port for a cluster process named ${processName}`);
  };
}

const metricsNotes: Record<string, string> = { api: ' (overview: /metrics/overview)', worker: ' (with Temporal SDK)', temporal: ' (Temporal server)' };

export async function runClusterProfile(flags: { observe: boolean }): Promise<void> {
  const config = loadConfigOrExit(clusterConfigSchema);
  const dataDir = path.resolve(config.ZENPAY_DATA_DIR, 'cluster');
  const say = (message: string) => console.log(`[zenpay] ${message}`);
  const echo = config.ZENPAY_QUIET === '1' ? undefined : (name: string, line: string) => console.log(formatLogLine(name, line));
  // --observe: Jaeger before the cluster, Prometheus once every process has announced its metrics address.
  const observers = await observersIfAsked(flags.observe, config, dataDir, echo, say);
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
    metricsPort: clusterMetricsPort(config.CLUSTER_METRICS_PORT_BASE),
    serviceEnv: observers?.serviceEnv ?? {},
    echo,
    progress: say,
  }).catch(async (error: unknown) => {
    await observers?.stop();
    throw error;
  });
  await observers?.scrape(cluster.metricsUrls).catch(async (error: unknown) => {
    await cluster.stop();
    await observers.stop();
    throw error;
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
    ['Temporal workers', cluster.workers.map((worker) => worker.spec.name).join(', ')],
    ['PostgreSQL (ZenPAY, temporal, temporal_visibility)', cluster.databaseUrl.replace(/:[^:@/]*@/, ':***@')],
    ['Data and logs', dataDir],
    ...Object.entries(cluster.metricsUrls)
      .sort(([left], [right]) => left.localeCompare(right, 'en', { numeric: true }))
      .map(([name, url]): [string, string] => [`Metrics: ${name}${metricsNotes[name.replace(/-\d+$/, '')] ?? ''}`, url]),
    ...observerRows(observers, 'npm start -- --cluster --observe'),
  ];
  printAddresses('ZenPAY (cluster profile) is up', rows);

  runUntilSignalled(cluster, observers, [cluster.temporal.server, ...cluster.apis, ...cluster.workers, cluster.bankSim, cluster.smsSim], say);
}
