// A ZenPAY system for one test file: its own database (copied from the migrated template), its own
// task queue on the run's Temporal server, and the worker, API (and bank simulator) as real processes.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { developmentAppDatabasePassword } from '../common/development';
import { appDatabaseUrl } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import { createDatabaseIfMissing } from '../system/postgres';
import { ManagedProcess, nodeEntry } from '../system/process';
import { projectRoot } from '../system/temporal';
import { generousRateLimits } from '../system/generous-limits';
import { registerSmsSimulator } from './client';

export interface TestSystemOptions {
  bankSim?: boolean;
  env?: NodeJS.ProcessEnv;
  /**
   * Keep the API's default rate limits (tests of the limits themselves); otherwise the per-address and
   * per-user limits are generous, since tests sign up many users from 127.0.0.1.
   */
  realRateLimits?: boolean;
}

export interface TestSystem {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  apiUrl: string;
  graphqlUrl: string;
  bankSimUrl: string | null;
  /** The SMS simulator every API of this system sends its codes through. */
  smsSimUrl: string;
  smsSim: ManagedProcess;
  /** For assertions only (ledger audits, seed money). */
  pool: Pool;
  worker: ManagedProcess;
  api: ManagedProcess;
  bankSim: ManagedProcess | null;
  logDir: string;
  /** Another API process on the same database and Temporal (stopped with the system). */
  startExtraApi(options?: { port?: number; name?: string; env?: NodeJS.ProcessEnv }): Promise<{ process: ManagedProcess; graphqlUrl: string }>;
  stop(): Promise<void>;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through jest (its global setup starts the services)`);
  return value;
}

/** Resolves with the first URL a process logs that matches (its port is chosen at start: port 0). */
function waitForUrl(process: ManagedProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const off = process.onLine((line) => {
      const url = pattern.exec(line)?.[1];
      if (url) {
        off();
        resolve(url);
      }
    });
  });
}

export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  const adminUrl = required('ZENPAY_TEST_ADMIN_DATABASE_URL');
  const temporalAddress = required('ZENPAY_TEST_TEMPORAL_ADDRESS');
  const suffix = randomBytes(5).toString('hex');
  const database = `zenpay_test_${suffix}`;
  await createDatabaseIfMissing(adminUrl, database, 'zenpay_template');
  const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/${database}`);
  const taskQueue = `zenpay-test-${suffix}`;
  const logDir = path.join(required('ZENPAY_TEST_RUN_DIR'), suffix);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The services connect as the application role; the test's own pool (assertions, seed money) as the owner.
    DATABASE_URL: appDatabaseUrl(databaseUrl, developmentAppDatabasePassword),
    DATABASE_POOL_SIZE: '10',
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    API_PORT: '0',
    BANK_SIM_PORT: '0',
    RECONCILE_INTERVAL_MS: '1000',
    RECONCILE_STALE_AFTER_MS: '3000',
    SMS_SIM_PORT: '0',
    ...(options.realRateLimits ? {} : generousRateLimits),
    ...options.env,
  };
  const service = (name: string, entry: string, readyLine: RegExp, serviceEnv: NodeJS.ProcessEnv = env) =>
    new ManagedProcess({
      name,
      ...nodeEntry(path.join(projectRoot, entry)),
      cwd: projectRoot,
      env: serviceEnv,
      logFile: path.join(logDir, `${name}.log`),
      readyLine,
    });

  const stops: Array<() => Promise<unknown>> = [];
  const pool = createPool({ connectionString: databaseUrl, max: 10, applicationName: 'zenpay-test' });
  stops.push(() => pool.end());
  try {
    // The SMS simulator first (the API sends codes through it), then the API, so the bank simulator
    // knows where to send webhooks and the worker where the bank simulator is.
    const smsSim = service('sms-sim', 'sms-sim/main.ts', /sms simulator listening/, { ...env, SMS_SIM_STATE_FILE: '' });
    const smsFound = waitForUrl(smsSim, /"url":"(http:\/\/[^"]+)"/);
    await smsSim.start();
    stops.push(() => smsSim.close());
    const smsSimUrl = await smsFound;
    env.SMS_API_URL = smsSimUrl;
    const api = service('api', 'api/main.ts', /api listening/);
    const apiFound = waitForUrl(api, /"url":"(http:\/\/[^"]+)\/graphql"/);
    await api.start();
    stops.push(() => api.close());
    const apiUrl = await apiFound;
    registerSmsSimulator(`${apiUrl}/graphql`, smsSimUrl);

    let bankSim: ManagedProcess | null = null;
    let bankSimUrl: string | null = null;
    if (options.bankSim) {
      bankSim = service('bank-sim', 'bank-sim/main.ts', /bank simulator listening/, {
        ...env,
        BANK_SIM_WEBHOOK_URL: `${apiUrl}/webhooks/bank`,
        BANK_SIM_STATE_FILE: path.join(logDir, 'bank-sim.jsonl'),
      });
      const found = waitForUrl(bankSim, /"url":"(http:\/\/[^"]+)"/);
      await bankSim.start();
      stops.push(() => bankSim!.close());
      bankSimUrl = await found;
    }
    const worker = service('worker', 'worker.ts', /worker running/, { ...env, ...(bankSimUrl ? { BANK_API_URL: bankSimUrl } : {}) });
    await worker.start();
    stops.push(() => worker.close());
    return {
      databaseUrl,
      temporalAddress,
      taskQueue,
      apiUrl,
      graphqlUrl: `${apiUrl}/graphql`,
      bankSimUrl,
      smsSimUrl,
      smsSim,
      pool,
      worker,
      api,
      bankSim,
      logDir,
      async startExtraApi(extra = {}) {
        const name = extra.name ?? `api-${stops.length}`;
        const process = service(name, 'api/main.ts', /api listening/, { ...env, API_PORT: String(extra.port ?? 0), ...extra.env });
        const found = waitForUrl(process, /"url":"(http:\/\/[^"]+\/graphql)"/);
        await process.start();
        stops.push(() => process.close());
        const graphqlUrl = await found;
        registerSmsSimulator(graphqlUrl, smsSimUrl);
        return { process, graphqlUrl };
      },
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => {});
        await dropDatabase(adminUrl, database);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
