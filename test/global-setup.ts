// Jest global setup: one Temporal dev server (in memory) and one PostgreSQL for the whole run, a
// migrated template database that each test file copies, and the workflow code bundled once.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { developmentAppDatabasePassword } from '../common/development';
import { enableAppLogin, migrateDatabase } from '../db/migrate';
import { createDatabaseIfMissing, startEmbeddedPostgres, type RunningPostgres } from '../system/postgres';
import { freePort } from '../system/ports';
import type { ManagedProcess } from '../system/process';
import { ensureTemporalCli, projectRoot, temporalDevServer } from '../system/temporal';

export const templateDatabase = 'zenpay_template';

interface TestServices {
  temporal: ManagedProcess;
  postgres: RunningPostgres | null;
}

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const runDir = mkdtempSync(path.join(tmpdir(), 'zenpay-test-'));
  // PostgreSQL may run as another user (see system/postgres-access.ts), which must reach its data below
  // (when a directory above is private too, the data goes to a shared place instead).
  chmodSync(runDir, 0o755);
  const binary = ensureTemporalCli();

  const temporalPort = await freePort();
  const temporal = temporalDevServer({
    binary,
    host: '127.0.0.1',
    port: temporalPort,
    uiPort: null,
    databaseFile: null,
    logFile: path.join(runDir, 'temporal.log'),
  });
  const bundlePath = path.join(runDir, 'workflow-bundle.js');
  const bundling = promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', path.join(projectRoot, 'scripts', 'bundle-workflows.ts'), bundlePath],
    { cwd: projectRoot },
  );

  let postgres: RunningPostgres | null = null;
  let adminUrl = process.env.ZENPAY_TEST_ADMIN_DATABASE_URL;
  if (!adminUrl) {
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(runDir, 'postgres'),
      port: await freePort(),
      password: 'zenpay',
      database: 'postgres',
      logFile: path.join(runDir, 'postgres.log'),
      progress: (message) => console.log(`[test] ${message}`),
    });
    adminUrl = postgres.url;
  }
  await Promise.all([temporal.start(), bundling]);
  await createDatabaseIfMissing(adminUrl, templateDatabase);
  await migrateDatabase(adminUrl.replace(/\/[^/]*$/, `/${templateDatabase}`));
  await enableAppLogin(adminUrl, developmentAppDatabasePassword);

  process.env.ZENPAY_TEST_ADMIN_DATABASE_URL = adminUrl;
  process.env.ZENPAY_TEST_TEMPORAL_ADDRESS = `127.0.0.1:${temporalPort}`;
  process.env.ZENPAY_TEST_RUN_DIR = runDir;
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
  (globalThis as { zenpayTestServices?: TestServices }).zenpayTestServices = { temporal, postgres };
  console.log(`\n[test] Temporal, PostgreSQL and workflow bundle ready in ${Date.now() - started} ms (logs in ${runDir})`);
}
