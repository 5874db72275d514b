// The cluster profile: the Temporal server proper on PostgreSQL (system/temporal-cluster.ts), several API
// processes sharing one address (SO_REUSEPORT) and each on a port of its own, several workers, the
// simulators; in dependency order, and taken down again. Used by `npm start -- --cluster` and its test.
import { randomInt } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { developmentAppDatabasePassword } from '../common/development';
import { enableAppLogin } from '../db/migrate';
import { freePort } from './ports';
import { startEmbeddedPostgres, type RunningPostgres } from './postgres';
import { ManagedProcess, nodeEntry } from './process';
import { embeddedPostgresPassword, metricsUrlIn, serviceEnvironment } from './stack';
import { projectRoot } from './temporal';
import { ensureTemporalServer, startTemporalCluster, type RunningTemporalCluster, type TemporalClusterPorts } from './temporal-cluster';

export interface ClusterOptions {
  dataDir: string;
  host: string;
  /** The address every API process shares. */
  apiPort: number;
  /** One per API process: its own port beside the shared one (tests pin a client to one process with it). */
  apiInstancePorts: readonly number[];
  workers: number;
  bankSimPort: number;
  smsSimPort: number;
  postgresPort: number;
  temporalPorts: TemporalClusterPorts;
  /** For a fresh cluster (default: defaultHistoryShards); an existing one keeps its own. */
  historyShards?: number;
  /** Where a further API process listens when scale() adds one (without it, scale() cannot add API processes). */
  nextApiInstancePort?: () => Promise<number>;
  /** Where each process (bank-sim, sms-sim, api-N, worker-N) serves its Prometheus metrics; absent: any free port. */
  metricsPort?: (processName: string) => number;
  serviceEnv?: NodeJS.ProcessEnv;
  echo?: (name: string, line: string) => void;
  progress?: (message: string) => void;
}

export interface ClusterStack {
  /** The owner's URL (migrations, tests' checks); the services connect as zenpay_app. */
  databaseUrl: string;
  temporalAddress: string;
  historyShards: number;
  urls: {
    graphql: string;
    /** Each API process's own GraphQL URL, in the order of apis. */
    apiGraphql: string[];
    webhooks: string;
    health: string;
    bankSim: string;
    smsSim: string;
    temporalUi: string | null;
    temporalMetrics: string;
  };
  /** Each process's Prometheus endpoint by process name (`temporal`: the server's), as last announced: restarts and scale() included. */
  metricsUrls: Record<string, string>;
  postgres: RunningPostgres;
  temporal: RunningTemporalCluster;
  bankSim: ManagedProcess;
  smsSim: ManagedProcess;
  apis: ManagedProcess[];
  workers: ManagedProcess[];
  /**
   * Runs this many API processes and workers from now on: starts more, or stops the newest (gracefully:
   * a worker finishes its tasks). Temporal's shards cannot change: that takes a fresh cluster.
   */
  scale(shape: { apis: number; workers: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<ClusterStack> {
  if (options.apiInstancePorts.length < 1 || options.workers < 1) throw new Error('a cluster needs at least one API process and one worker');
  const progress = options.progress ?? (() => {});
  const logDir = path.join(options.dataDir, 'logs');
  const started: Array<{ name: string; stop(): Promise<unknown> }> = [];
  const stopAll = async () => {
    for (const part of started.reverse()) {
      progress(`stopping ${part.name}`);
      await part.stop().catch(() => {});
    }
  };
  try {
    progress('making sure the Temporal server is built (a first build takes several minutes)');
    const build = ensureTemporalServer();
    progress(`starting embedded PostgreSQL on 127.0.0.1:${options.postgresPort} (data in ${path.join(options.dataDir, 'postgres')})`);
    const postgres = await startEmbeddedPostgres({
      dataDir: path.join(options.dataDir, 'postgres'),
      port: options.postgresPort,
      password: embeddedPostgresPassword,
      database: 'zenpay',
      logFile: path.join(logDir, 'postgres.log'),
      progress,
    });
    started.push({ name: 'PostgreSQL', stop: postgres.stop });
    progress('applying database migrations');
    await migrateInChildProcess(postgres.url);
    const appDatabaseUrl = await enableAppLogin(postgres.url, developmentAppDatabasePassword);

    const adminUrl = new URL(postgres.url);
    adminUrl.pathname = '/postgres';
    const temporal = await startTemporalCluster({
      build,
      adminUrl: adminUrl.toString(),
      dir: path.join(options.dataDir, 'temporal'),
      host: options.host,
      ports: options.temporalPorts,
      historyShards: options.historyShards,
      logFile: path.join(logDir, 'temporal.log'),
      uiLogFile: path.join(logDir, 'temporal-ui.log'),
      // Not echoed: the server logs each of its shards' start-up hiccups with a stack trace.
      progress,
    });
    started.push({ name: 'Temporal server', stop: temporal.stop });
    progress(`Temporal server up (its log: ${path.join(logDir, 'temporal.log')})`);
    if (!temporal.uiUrl) progress('no Temporal UI: the UI server did not build here (see README, "Cluster profile")');

    const apiUrl = `http://${options.host}:${options.apiPort}`;
    const bankSimUrl = `http://${options.host}:${options.bankSimPort}`;
    const smsSimUrl = `http://${options.host}:${options.smsSimPort}`;
    const env: NodeJS.ProcessEnv = {
      ...serviceEnvironment({ ...options, appDatabaseUrl, temporalAddress: temporal.address, serviceEnv: {} }),
      // Both API processes share API_PORT; webhooks go to that address, whichever process the kernel picks.
      API_REUSE_PORT: 'true',
      ...options.serviceEnv,
    };
    const metricsUrls: Record<string, string> = { temporal: temporal.metricsUrl };
    const service = (name: string, entry: string, readyLine: RegExp, extraEnv: NodeJS.ProcessEnv = {}) => {
      const part = new ManagedProcess({
        name,
        ...nodeEntry(path.join(projectRoot, entry)),
        cwd: projectRoot,
        env: { ...env, METRICS_PORT: String(options.metricsPort?.(name) ?? 0), ...extraEnv },
        logFile: path.join(logDir, `${name}.log`),
        echo: options.echo,
        readyLine,
      });
      // Every start announces the address (on a free port, a restart's differs): the API and workers in
      // their ready line, the simulators just after theirs.
      part.onLine((line) => {
        const url = metricsUrlIn(line);
        if (url) metricsUrls[name] = url;
      });
      return part;
    };
    const bankSim = service('bank-sim', 'bank-sim/main.ts', /bank simulator listening/);
    const smsSim = service('sms-sim', 'sms-sim/main.ts', /sms simulator listening/);
    const workers = Array.from({ length: options.workers }, (_, index) => service(`worker-${index + 1}`, 'worker.ts', /worker running/));
    const apis = options.apiInstancePorts.map((port, index) =>
      service(`api-${index + 1}`, 'api/main.ts', /api listening/, { API_INSTANCE_PORT: String(port) }),
    );
    const apiGraphql = options.apiInstancePorts.map((port) => `http://${options.host}:${port}/graphql`);
    const apiLabel = (api: ManagedProcess, port: number) => `${api.spec.name} on ${apiUrl} (shared) and http://${options.host}:${port} (its own)`;
    const startPart = async (part: ManagedProcess, label: string) => {
      progress(`starting ${label}`);
      await part.start();
      started.push({ name: part.spec.name, stop: () => part.close() });
    };
    const stopPart = async (part: ManagedProcess) => {
      progress(`stopping ${part.spec.name}`);
      await part.close();
      delete metricsUrls[part.spec.name];
      started.splice(started.findIndex((entry) => entry.name === part.spec.name), 1);
    };
    await startPart(bankSim, `bank simulator on ${bankSimUrl}`);
    await startPart(smsSim, `SMS simulator on ${smsSimUrl}`);
    for (const worker of workers) await startPart(worker, `Temporal ${worker.spec.name}`);
    for (const [index, api] of apis.entries()) await startPart(api, apiLabel(api, options.apiInstancePorts[index]!));
    // The API processes and workers announced theirs in their ready line; the simulators do just after theirs.
    await metricsAnnounced([bankSim, smsSim], metricsUrls);

    const scale = async (shape: { apis: number; workers: number }) => {
      if (shape.apis < 1 || shape.workers < 1) throw new Error('a cluster needs at least one API process and one worker');
      while (workers.length > shape.workers) await stopPart(workers.pop()!);
      while (workers.length < shape.workers) {
        const worker = service(`worker-${workers.length + 1}`, 'worker.ts', /worker running/);
        workers.push(worker);
        await startPart(worker, `Temporal ${worker.spec.name}`);
      }
      while (apis.length > shape.apis) {
        await stopPart(apis.pop()!);
        apiGraphql.pop();
      }
      while (apis.length < shape.apis) {
        if (!options.nextApiInstancePort) throw new Error('this cluster was started without nextApiInstancePort: it cannot add API processes');
        const port = await options.nextApiInstancePort();
        const api = service(`api-${apis.length + 1}`, 'api/main.ts', /api listening/, { API_INSTANCE_PORT: String(port) });
        apis.push(api);
        apiGraphql.push(`http://${options.host}:${port}/graphql`);
        await startPart(api, apiLabel(api, port));
      }
    };
    return {
      databaseUrl: postgres.url,
      temporalAddress: temporal.address,
      historyShards: temporal.historyShards,
      urls: {
        graphql: `${apiUrl}/graphql`,
        apiGraphql,
        webhooks: `${apiUrl}/webhooks/bank`,
        health: `${apiUrl}/healthz`,
        bankSim: bankSimUrl,
        smsSim: smsSimUrl,
        temporalUi: temporal.uiUrl,
        temporalMetrics: temporal.metricsUrl,
      },
      metricsUrls,
      postgres,
      temporal,
      bankSim,
      smsSim,
      apis,
      workers,
      scale,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export interface LocalClusterOptions {
  /** Where the data goes; a fresh temporary folder named after prefix when absent. */
  dataDir?: string;
  prefix: string;
  historyShards?: number;
  apis?: number;
  workers?: number;
  serviceEnv?: NodeJS.ProcessEnv;
  progress?: (message: string) => void;
}

/** A whole cluster on free loopback ports, without the UI: for tests, benchmarks and drills. */
export async function startLocalCluster(options: LocalClusterOptions): Promise<ClusterStack & { dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), `${options.prefix}-`));
  // PostgreSQL may run as another user (see system/postgres-access.ts), which must reach its data below.
  chmodSync(dataDir, 0o755);
  const free = async (count: number) => {
    const ports: number[] = [];
    for (let index = 0; index < count; index++) ports.push(await freePort());
    return ports;
  };
  // Temporal keeps its services' ports in a smallint column (cluster_membership): below 32768, where Linux
  // hands out no ephemeral ports either.
  const temporalPorts: number[] = [];
  while (temporalPorts.length < 10) {
    const candidate = randomInt(20_000, 32_000);
    if (!temporalPorts.includes(candidate) && (await portFree(candidate))) temporalPorts.push(candidate);
  }
  const [frontend, frontendHttp, history, matching, worker, ...rest] = temporalPorts;
  const [frontendMembership, historyMembership, matchingMembership, workerMembership, metrics] = rest;
  const cluster = await startCluster({
    dataDir,
    host: '127.0.0.1',
    apiPort: await freePort(),
    apiInstancePorts: await free(options.apis ?? 2),
    workers: options.workers ?? 2,
    bankSimPort: await freePort(),
    smsSimPort: await freePort(),
    postgresPort: await freePort(),
    temporalPorts: {
      frontend: frontend!,
      frontendHttp: frontendHttp!,
      history: history!,
      matching: matching!,
      worker: worker!,
      frontendMembership: frontendMembership!,
      historyMembership: historyMembership!,
      matchingMembership: matchingMembership!,
      workerMembership: workerMembership!,
      metrics: metrics!,
      ui: null,
    },
    historyShards: options.historyShards,
    nextApiInstancePort: () => freePort(),
    serviceEnv: options.serviceEnv,
    progress: options.progress,
  });
  return { ...cluster, dataDir };
}

/** Waits (10 s at most) until these processes have announced their metrics address. */
async function metricsAnnounced(parts: readonly ManagedProcess[], metricsUrls: Record<string, string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const silent = parts.filter((part) => !metricsUrls[part.spec.name]).map((part) => part.spec.name);
    if (silent.length === 0) return;
    if (Date.now() > deadline) throw new Error(`no metrics address announced by ${silent.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether nothing listens on this loopback port right now. */
async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * db/migrate.ts as its own process: node-pg-migrate is ECMAScript modules only, which a jest test (this
 * module's other user) cannot import.
 */
async function migrateInChildProcess(ownerUrl: string): Promise<void> {
  const { command, args } = nodeEntry(path.join(projectRoot, 'db', 'migrate.ts'));
  await promisify(execFile)(command, args, { cwd: projectRoot, env: { ...process.env, DATABASE_URL: ownerUrl }, timeout: 120_000 }).catch(
    (error: { stderr?: string; message: string }) => {
      throw new Error(`migrations failed: ${(error.stderr || error.message).trim().split('\n').slice(-5).join(' | ')}`);
    },
  );
}
