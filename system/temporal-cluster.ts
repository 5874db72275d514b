// The Temporal server proper (not the dev server) on PostgreSQL, for the cluster profile: its own role and
// two databases in the given PostgreSQL, the schema set up by temporal-sql-tool, a config of ours, the
// default namespace and ZenPAY's search attributes; and the Temporal UI server beside it when it was built.
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { stringify } from 'yaml';
import { searchAttributes } from '../common/transactions';
import { ManagedProcess } from './process';
import { ensureBuilt, projectRoot } from './temporal';

/** What scripts/ensure-temporal-server.sh built: the server, its SQL tool, the schema, maybe the UI. */
export interface TemporalServerBuild {
  dir: string;
  server: string;
  sqlTool: string;
  schemaDir: string;
  /** null: the UI server did not build here. */
  uiServer: string | null;
}

export function ensureTemporalServer(): TemporalServerBuild {
  const dir = ensureBuilt('ensure-temporal-server.sh');
  const uiServer = path.join(dir, 'temporal-ui-server');
  return {
    dir,
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    schemaDir: path.join(dir, 'schema', 'postgresql', 'v12'),
    uiServer: existsSync(uiServer) ? uiServer : null,
  };
}

/**
 * A fresh cluster's history shards. The count is written into Temporal's database when it is created and
 * can never change (workflows are placed by hash modulo the count), so it is chosen for the largest
 * deployment this data may grow into, not for this machine: 512 shards spread over up to a few dozen
 * history hosts; an idle shard costs little (a row and a little memory).
 */
export const defaultHistoryShards = 512;
export const historyShardsMax = 16_384;

export interface TemporalClusterPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  workerMembership: number;
  metrics: number;
  /** null: no UI. */
  ui: number | null;
}

/** The classic local layout, from the frontend's port (7233: 7234, 7235, 7239, 6933…, 7243). */
export function temporalClusterPortsFrom(frontend: number, ui: number | null, metrics: number): TemporalClusterPorts {
  return {
    frontend,
    frontendHttp: frontend + 10,
    history: frontend + 1,
    matching: frontend + 2,
    worker: frontend + 6,
    frontendMembership: frontend - 300,
    historyMembership: frontend - 299,
    matchingMembership: frontend - 298,
    workerMembership: frontend - 294,
    metrics,
    ui,
  };
}

export interface TemporalClusterOptions {
  build: TemporalServerBuild;
  /** A PostgreSQL superuser's URL (the embedded PostgreSQL's `postgres`): creates the role and databases. */
  adminUrl: string;
  /** Config, dynamic config and the recorded shard count live here. */
  dir: string;
  host: string;
  ports: TemporalClusterPorts;
  /** For a fresh cluster; an existing one keeps its own (asking for another stops with a message). */
  historyShards?: number;
  logFile?: string;
  uiLogFile?: string;
  echo?: (name: string, line: string) => void;
  progress?: (message: string) => void;
}

export interface RunningTemporalCluster {
  address: string;
  historyShards: number;
  uiUrl: string | null;
  metricsUrl: string;
  server: ManagedProcess;
  ui: ManagedProcess | null;
  stop(): Promise<void>;
}

const temporalRole = 'temporal';
/** The embedded PostgreSQL listens on loopback only; a deployment sets its own (docker-compose.yml). */
const temporalRolePassword = 'temporal-development';
const databases = { default: 'temporal', visibility: 'temporal_visibility' } as const;
const namespace = 'default';
/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD (every ZenPAY search attribute is a Keyword). */
const indexedValueTypeKeyword = 2;
/** How long closed workflows stay visible (as deploy/temporal/setup-namespace.sh's --retention 30d). */
const namespaceRetentionMs = 30 * 24 * 3600 * 1000;
const serverReadyTimeoutMs = 120_000;
const sqlToolTimeoutMs = 180_000;

export async function startTemporalCluster(options: TemporalClusterOptions): Promise<RunningTemporalCluster> {
  const progress = options.progress ?? (() => {});
  const admin = new URL(options.adminUrl);
  const historyShards = await prepareDatabases(options, admin, progress);
  const configDir = path.join(options.dir, 'config');
  writeServerConfig(options, configDir, admin, historyShards);
  const address = `${options.host}:${options.ports.frontend}`;
  const server = new ManagedProcess({
    name: 'temporal',
    command: options.build.server,
    args: ['--root', options.dir, '--config', 'config', '--env', 'zenpay', '--allow-no-auth', 'start'],
    logFile: options.logFile,
    echo: options.echo,
    readyProbe: () => frontendServing(address),
    readyTimeoutMs: serverReadyTimeoutMs,
  });
  progress(`starting the Temporal server (${historyShards} history shards) on ${address}`);
  await server.start();
  let ui: ManagedProcess | null = null;
  try {
    await registerNamespace(address);
    if (options.build.uiServer && options.ports.ui !== null) ui = await startUi(options, address);
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    address,
    historyShards,
    uiUrl: ui ? `http://${options.host}:${options.ports.ui}` : null,
    metricsUrl: `http://${options.host}:${options.ports.metrics}/metrics`,
    server,
    ui,
    async stop() {
      await ui?.close();
      await server.close();
    },
  };
}

/** The role and databases (once), the schema at the build's version (every time: a no-op when current). */
async function prepareDatabases(options: TemporalClusterOptions, admin: URL, progress: (message: string) => void): Promise<number> {
  const shardsFile = path.join(options.dir, 'history-shards');
  mkdirSync(options.dir, { recursive: true });
  const client = new pg.Client({ connectionString: options.adminUrl });
  await client.connect();
  let fresh: boolean;
  try {
    const role = pg.escapeIdentifier(temporalRole);
    const { rowCount: roleExists } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [temporalRole]);
    // CREATEDB: temporal-sql-tool creates the two databases itself, as in deploy/temporal/setup-schema.sh.
    if (!roleExists) await client.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD ${pg.escapeLiteral(temporalRolePassword)}`);
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [Object.values(databases)]);
    fresh = rows.length === 0;
  } finally {
    await client.end();
  }
  const recorded = existsSync(shardsFile) ? Number(readFileSync(shardsFile, 'utf8').trim()) : null;
  if (!fresh && recorded === null) throw new Error(`Temporal's databases exist but ${shardsFile} does not: reset the cluster's data (see README, "Cluster profile")`);
  const historyShards = fresh ? (options.historyShards ?? defaultHistoryShards) : recorded!;
  if (!Number.isInteger(historyShards) || historyShards < 1 || historyShards > historyShardsMax) throw new Error(`history shards must be 1 to ${historyShardsMax}, not ${historyShards}`);
  if (!fresh && options.historyShards !== undefined && options.historyShards !== recorded) {
    throw new Error(`this cluster was created with ${recorded} history shards, which cannot change; asked for ${options.historyShards}: reset its data to choose again`);
  }
  const tool = (database: string, ...args: string[]) => runSqlTool(options.build.sqlTool, admin, database, args);
  if (fresh) {
    progress(`creating Temporal's databases (${historyShards} history shards, fixed from now on)`);
    for (const database of Object.values(databases)) await tool(database, 'create-database');
    for (const database of Object.values(databases)) await tool(database, 'setup-schema', '-v', '0.0');
    writeFileSync(shardsFile, `${historyShards}\n`);
  }
  await tool(databases.default, 'update-schema', '-d', path.join(options.build.schemaDir, 'temporal', 'versioned'));
  await tool(databases.visibility, 'update-schema', '-d', path.join(options.build.schemaDir, 'visibility', 'versioned'));
  return historyShards;
}

async function runSqlTool(sqlTool: string, admin: URL, database: string, args: string[]): Promise<void> {
  const connection = ['--plugin', 'postgres12', '--ep', admin.hostname, '-p', admin.port || '5432', '-u', temporalRole, '--db', database];
  await promisify(execFile)(sqlTool, [...connection, ...args], {
    // The password through the environment, not the command line (which every user can read).
    env: { ...process.env, SQL_PASSWORD: temporalRolePassword },
    timeout: sqlToolTimeoutMs,
    maxBuffer: 8 * 1024 * 1024,
  }).catch((error: { stderr?: string; stdout?: string; message: string }) => {
    const detail = `${error.stderr ?? ''}${error.stdout ?? ''}`.trim().split('\n').slice(-5).join(' | ') || error.message;
    throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed: ${detail}`);
  });
}

function writeServerConfig(options: TemporalClusterOptions, configDir: string, admin: URL, historyShards: number): void {
  mkdirSync(configDir, { recursive: true });
  const { ports, host } = options;
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${admin.hostname}:${admin.port || '5432'}`,
      connectProtocol: 'tcp',
      user: temporalRole,
      password: temporalRolePassword,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: host, ...(httpPort ? { httpPort } : {}) },
  });
  const dynamicConfigFile = path.join(configDir, 'dynamic.yaml');
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: historyShards,
      // One pool per service in this process (frontend, history, matching, worker): 4 × (16 + 4) connections.
      datastores: { 'postgres-default': datastore(databases.default, 16), 'postgres-visibility': datastore(databases.visibility, 4) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: host },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `${host}:${ports.metrics}` } },
    },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, ports.frontendHttp),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `${host}:${ports.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
  writeFileSync(path.join(configDir, 'zenpay.yaml'), `# Written by system/temporal-cluster.ts at every start: edit that file, not this one.\n${stringify(config)}`);
  writeFileSync(dynamicConfigFile, `# Written by system/temporal-cluster.ts (ZenPAY's dynamic config; the same as deploy/temporal/dynamicconfig.yaml).\n${readFileSync(dynamicConfigSource, 'utf8')}`);
}

/** ZenPAY's dynamic config, shared with docker-compose.yml. */
export const dynamicConfigSource = path.join(projectRoot, 'deploy', 'temporal', 'dynamicconfig.yaml');

/** The frontend answers (the namespace need not exist yet). */
async function frontendServing(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => null);
  if (!connection) return false;
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

/** The default namespace and ZenPAY's search attributes (the dev server gets them as flags). */
async function registerNamespace(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const alreadyExists = (error: unknown) => (error as { code?: number }).code === 6;
    await connection.workflowService
      .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(namespaceRetentionMs) })
      .catch((error: unknown) => {
        if (!alreadyExists(error)) throw error;
      });
    // The frontend's namespace cache refreshes on its own schedule: wait until it knows the namespace.
    await retryUntil(() => connection.workflowService.describeNamespace({ namespace }), 30_000);
    const wanted = Object.fromEntries(Object.values(searchAttributes).map((key) => [key.name, indexedValueTypeKeyword] as const));
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.fromEntries(Object.entries(wanted).filter(([name]) => !(name in (customAttributes ?? {}))));
    if (Object.keys(missing).length > 0) {
      await retryUntil(() => connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing }).catch((error: unknown) => {
        if (!alreadyExists(error)) throw error;
      }), 30_000);
    }
  } finally {
    await connection.close();
  }
}

async function retryUntil<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function startUi(options: TemporalClusterOptions, address: string): Promise<ManagedProcess> {
  const root = path.join(options.dir, 'ui');
  mkdirSync(path.join(root, 'config'), { recursive: true });
  const config = {
    temporalGrpcAddress: address,
    host: options.host,
    port: options.ports.ui,
    enableUi: true,
    defaultNamespace: namespace,
    cors: { cookieInsecure: true, allowOrigins: [`http://${options.host}:${options.ports.ui}`] },
    hideLogs: true,
  };
  writeFileSync(path.join(root, 'config', 'zenpay.yaml'), stringify(config));
  const url = `http://${options.host}:${options.ports.ui}`;
  const ui = new ManagedProcess({
    name: 'temporal-ui',
    command: options.build.uiServer!,
    args: ['--root', root, '--config', 'config', '--env', 'zenpay', 'start'],
    logFile: options.uiLogFile,
    echo: options.echo,
    readyProbe: async () => (await fetch(`${url}/api/v1/settings`, { signal: AbortSignal.timeout(1_000) })).ok,
    readyTimeoutMs: 60_000,
  });
  await ui.start();
  return ui;
}
