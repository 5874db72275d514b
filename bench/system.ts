// The system under test: one the bench starts itself (system/stack.ts, in a temporary directory), or
// one already running that it is pointed at. Either way, it adds the api-direct API process and knows
// which processes to measure.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { defaults } from '../common/config';
import { createPool, type Pool } from '../db/pool';
import { ManagedProcess, nodeEntry } from '../system/process';
import { generousRateLimits } from '../system/generous-limits';
import { startLocalCluster, type ClusterStack } from '../system/cluster';
import { startLocalStack } from '../system/stack';
import { projectRoot } from '../system/temporal';
import type { BenchOptions, ProcessName } from './options';
import { environmentOf, pidListeningOn, pidsByCommandLine, postgresServerPid, type ProcessGroup } from './processes';

/** A cluster profile's shape: API processes, workers, Temporal history shards. */
export interface ClusterShape {
  apis: number;
  workers: number;
  shards: number;
}

export interface BenchSystem {
  /** dev, cluster, or attached (a running system given by --url). */
  profile: 'dev' | 'cluster' | 'attached';
  /** The cluster profile only: its shape now, and a way to change its API processes and workers. */
  cluster: { shape(): ClusterShape; scale(shape: { apis: number; workers: number }): Promise<void> } | null;
  graphqlUrl: string;
  databaseUrl: string;
  bankUrl: string | null;
  /** Where the sign-up codes are read. */
  smsUrl: string;
  /** For seeding, the direct-sql baseline's own schema and database statistics. */
  pool: Pool;
  /** What to measure: the system's processes, the api-direct API once started, and the bench itself. */
  processGroups(): ProcessGroup[];
  /** Notes for the report, e.g. a process that could not be found. */
  notes: string[];
  /** Where the processes the bench started write their output. */
  logDir: string;
  /** Starts (once) an API process with TRANSFER_EXECUTION=inline on the same database and Temporal. */
  apiDirectUrl(): Promise<string>;
  /** Starts (once) the noop-workflow worker (bench/noop) on the same Temporal; returns its task queue and Temporal's address. */
  noopWorker(): Promise<{ taskQueue: string; temporalAddress: string }>;
  stop(options: { keepData: boolean }): Promise<void>;
}

const poolConnectionsMax = 8;

interface Parts {
  profile: BenchSystem['profile'];
  graphqlUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  bankUrl: string | null;
  smsUrl: string;
  logDir: string;
  pids: Partial<Record<ProcessName, number>>;
  /** The cluster profile's processes, read each time they are measured (scale() changes them). */
  cluster: ClusterStack | null;
  notes: string[];
  stopSystem: () => Promise<void>;
  dataDir: string | null;
}

export async function startOwnSystem(progress: (message: string) => void): Promise<BenchSystem> {
  // As `npm start` runs it: Temporal's state in a SQLite file (here in a temporary directory).
  const stack = await startLocalStack({ prefix: 'zenpay-bench', temporalPersistent: true, serviceEnv: { LOG_LEVEL: 'warn', ...generousRateLimits }, progress });
  const dataDir = stack.dataDir;
  progress(`system started in ${dataDir}`);
  const pids: Partial<Record<ProcessName, number>> = {
    api: stack.api.pid,
    worker: stack.worker.pid,
    'bank-sim': stack.bankSim.pid,
    ...(stack.temporal?.pid ? { temporal: stack.temporal.pid } : {}),
  };
  return assemble({
    profile: 'dev',
    cluster: null,
    graphqlUrl: stack.urls.graphql,
    databaseUrl: stack.databaseUrl,
    temporalAddress: stack.temporalAddress,
    taskQueue: process.env.TEMPORAL_TASK_QUEUE ?? defaults.taskQueue,
    bankUrl: stack.urls.bankSim,
    smsUrl: stack.urls.smsSim,
    logDir: path.join(dataDir, 'logs'),
    pids,
    notes: [],
    stopSystem: () => stack.stop(),
    dataDir,
  });
}

/** The cluster profile (system/cluster.ts) in a temporary directory, a fresh Temporal cluster with this shape. */
export async function startOwnCluster(shape: ClusterShape, progress: (message: string) => void): Promise<BenchSystem> {
  const cluster = await startLocalCluster({
    prefix: 'zenpay-bench-cluster',
    historyShards: shape.shards,
    apis: shape.apis,
    workers: shape.workers,
    serviceEnv: { LOG_LEVEL: 'warn', ...generousRateLimits },
    progress,
  });
  progress(`cluster started in ${cluster.dataDir} (${cluster.historyShards} history shards, ${shape.apis} API processes, ${shape.workers} workers)`);
  return assemble({
    profile: 'cluster',
    cluster,
    graphqlUrl: cluster.urls.graphql,
    databaseUrl: cluster.databaseUrl,
    temporalAddress: cluster.temporalAddress,
    taskQueue: process.env.TEMPORAL_TASK_QUEUE ?? defaults.taskQueue,
    bankUrl: cluster.urls.bankSim,
    smsUrl: cluster.urls.smsSim,
    logDir: path.join(cluster.dataDir, 'logs'),
    pids: { 'bank-sim': cluster.bankSim.pid, ...(cluster.temporal.server.pid ? { temporal: cluster.temporal.server.pid } : {}) },
    notes: [],
    stopSystem: () => cluster.stop(),
    dataDir: cluster.dataDir,
  });
}

/** A running system: its processes are found by the ports they listen on, or named with --pids. */
export async function attachToSystem(options: BenchOptions & { url: string }, logDir: string): Promise<BenchSystem> {
  const notes: string[] = [];
  const port = (url: string) => Number(new URL(url).port || 80);
  const found = (name: ProcessName, pid: number | null | undefined): Partial<Record<ProcessName, number>> => {
    const chosen = options.pids[name] ?? pid ?? undefined;
    if (chosen === undefined) notes.push(`${name}: process not found, not measured (name it with --pids ${name}=PID)`);
    return chosen === undefined ? {} : { [name]: chosen };
  };
  // Other systems may run on this machine too: the worker is the one on our database and task queue.
  const sameDatabase = (url: string) => {
    const [ours, theirs] = [new URL(options.databaseUrl), new URL(url)];
    return ours.port === theirs.port && ours.pathname === theirs.pathname;
  };
  const workers = pidsByCommandLine(['worker.']).filter(
    (pid) =>
      sameDatabase(environmentOf(pid, 'DATABASE_URL') ?? defaults.databaseUrl) &&
      (environmentOf(pid, 'TEMPORAL_TASK_QUEUE') ?? defaults.taskQueue) === options.taskQueue,
  );
  const pids = {
    ...found('api', pidListeningOn(port(options.url))),
    ...found('temporal', pidListeningOn(Number(options.temporalAddress.split(':').at(-1)))),
    ...found('worker', workers.length === 1 ? workers[0] : null),
    ...(options.scenarios.includes('on-ramp') ? found('bank-sim', pidListeningOn(port(options.bankUrl))) : {}),
  };
  return assemble({
    profile: 'attached',
    cluster: null,
    graphqlUrl: options.url,
    databaseUrl: options.databaseUrl,
    temporalAddress: options.temporalAddress,
    taskQueue: options.taskQueue,
    bankUrl: options.bankUrl,
    smsUrl: options.smsUrl,
    logDir,
    pids,
    notes,
    stopSystem: async () => {},
    dataDir: null,
  });
}

async function assemble(parts: Parts): Promise<BenchSystem> {
  const pool = createPool({ connectionString: parts.databaseUrl, max: poolConnectionsMax, applicationName: 'zenpay-bench' });
  const postgresPid = await postgresServerPid(pool).catch(() => null);
  if (postgresPid === null) parts.notes.push('postgres: server process not found on this machine, not measured');
  let apiDirect: { process: ManagedProcess; url: string } | null = null;
  let noopWorker: ManagedProcess | null = null;
  const noopTaskQueue = `${parts.taskQueue}-bench-noop`;

  const startApiDirect = async () => {
    const apiProcess = new ManagedProcess({
      name: 'api-direct',
      ...nodeEntry(path.join(projectRoot, 'api', 'main.ts')),
      cwd: projectRoot,
      env: {
        ...process.env,
        DATABASE_URL: parts.databaseUrl,
        TEMPORAL_ADDRESS: parts.temporalAddress,
        TEMPORAL_TASK_QUEUE: parts.taskQueue,
        API_HOST: '127.0.0.1',
        API_PORT: '0',
        TRANSFER_EXECUTION: 'inline',
        LOG_LEVEL: 'warn',
        // As the measured system: no step-up, payment limits or fraud rules in the way of scripted users.
        ...generousRateLimits,
      },
      logFile: path.join(parts.logDir, 'api-direct.log'),
      readyLine: /api listening/,
    });
    let url: string | null = null;
    apiProcess.onLine((line) => (url ??= /"url":"(http:\/\/[^"]+\/graphql)"/.exec(line)?.[1] ?? null));
    await apiProcess.start();
    if (!url) throw new Error(`api-direct did not say where it listens:\n${apiProcess.recentOutput()}`);
    return { process: apiProcess, url };
  };

  const startNoopWorker = async () => {
    const worker = new ManagedProcess({
      name: 'noop-worker',
      ...nodeEntry(path.join(projectRoot, 'bench', 'noop', 'worker.ts')),
      cwd: projectRoot,
      // The environment ZenPAY's worker gets (its WORKER_* settings included), on a task queue of its own.
      env: { ...process.env, TEMPORAL_ADDRESS: parts.temporalAddress, NOOP_TASK_QUEUE: noopTaskQueue },
      logFile: path.join(parts.logDir, 'noop-worker.log'),
      readyLine: /noop worker running/,
    });
    await worker.start();
    return worker;
  };

  const { cluster } = parts;
  return {
    profile: parts.profile,
    cluster: cluster && {
      shape: () => ({ apis: cluster.apis.length, workers: cluster.workers.length, shards: cluster.historyShards }),
      scale: (shape) => cluster.scale(shape),
    },
    graphqlUrl: parts.graphqlUrl,
    databaseUrl: parts.databaseUrl,
    bankUrl: parts.bankUrl,
    smsUrl: parts.smsUrl,
    pool,
    notes: parts.notes,
    logDir: parts.logDir,
    processGroups() {
      const groups: ProcessGroup[] = [];
      const add = (name: string, pid: number | undefined | null, withDescendants = false) => {
        if (pid) groups.push({ name, rootPid: pid, withDescendants });
      };
      add('postgres', postgresPid, true);
      add('temporal', parts.pids.temporal, true);
      add('worker', parts.pids.worker);
      add('api', parts.pids.api);
      // The cluster's API processes and workers each on a row of their own (api-1, worker-2, ...).
      for (const part of [...(cluster?.apis ?? []), ...(cluster?.workers ?? [])]) add(part.spec.name, part.pid);
      add('api-direct', apiDirect?.process.pid);
      add('noop-worker', noopWorker?.pid);
      add('bank-sim', parts.pids['bank-sim']);
      add('bench client', process.pid);
      return groups;
    },
    async apiDirectUrl() {
      apiDirect ??= await startApiDirect();
      return apiDirect.url;
    },
    async noopWorker() {
      noopWorker ??= await startNoopWorker();
      return { taskQueue: noopTaskQueue, temporalAddress: parts.temporalAddress };
    },
    async stop({ keepData }) {
      await apiDirect?.process.close();
      await noopWorker?.close();
      await pool.end();
      await parts.stopSystem();
      if (parts.dataDir && !keepData) rmSync(parts.dataDir, { recursive: true, force: true });
    },
  };
}
