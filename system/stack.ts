// Brings up a whole ZenPAY system (PostgreSQL, Temporal, bank and SMS simulators, worker, API) as separate
// processes, in dependency order, and takes it down again. Used by `npm start`, tests, bench and drill.
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { developmentAppDatabasePassword } from '../common/development';
import { enableAppLogin, migrateDatabase } from '../db/migrate';
import { freePort } from './ports';
import { startEmbeddedPostgres, type RunningPostgres } from './postgres';
import { ManagedProcess, nodeEntry } from './process';
import { ensureTemporalCli, projectRoot, temporalDevServer } from './temporal';

export interface StackOptions {
  dataDir: string;
  host: string;
  apiPort: number;
  bankSimPort: number;
  smsSimPort: number;
  temporalPort: number;
  /** null: no Web UI. */
  temporalUiPort: number | null;
  postgresPort: number;
  /** Use this PostgreSQL instead of starting an embedded one. */
  databaseUrl?: string;
  /** Use this Temporal server instead of starting a dev server. */
  temporalAddress?: string;
  /** Keep Temporal's state in a SQLite file under dataDir (survives restarts). */
  temporalPersistent: boolean;
  /** Extra environment for every service (e.g. short bank deadlines in tests). */
  serviceEnv?: NodeJS.ProcessEnv;
  /**
   * Where each process serves Prometheus metrics (0: any free port), the Temporal dev server's included;
   * absent: each service's default (or any free port when that is taken) and a free one for Temporal.
   */
  metricsPorts?: Partial<Record<MetricsSource, number>>;
  echo?: (name: string, line: string) => void;
  progress?: (message: string) => void;
}

export type MetricsSource = 'api' | 'worker' | 'bankSim' | 'smsSim' | 'temporal';

export interface Stack {
  databaseUrl: string;
  /** Each process's Prometheus endpoint, as it announced it (null: none). */
  metricsUrls: Record<MetricsSource, string | null>;
  temporalAddress: string;
  urls: { graphql: string; webhooks: string; health: string; bankSim: string; smsSim: string; temporalUi: string | null };
  postgres: RunningPostgres | null;
  temporal: ManagedProcess | null;
  bankSim: ManagedProcess;
  smsSim: ManagedProcess;
  worker: ManagedProcess;
  api: ManagedProcess;
  stop(): Promise<void>;
}

export const embeddedPostgresPassword = 'zenpay';

export async function startStack(options: StackOptions): Promise<Stack> {
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
    let postgres: RunningPostgres | null = null;
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      progress(`starting embedded PostgreSQL on 127.0.0.1:${options.postgresPort} (data in ${path.join(options.dataDir, 'postgres')})`);
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(options.dataDir, 'postgres'),
        port: options.postgresPort,
        password: embeddedPostgresPassword,
        database: 'zenpay',
        logFile: path.join(logDir, 'postgres.log'),
        progress,
      });
      started.push({ name: 'PostgreSQL', stop: postgres.stop });
      databaseUrl = postgres.url;
    }
    progress('applying database migrations');
    await migrateDatabase(databaseUrl);
    // The services connect as the application role, which cannot write money except through zp_* functions.
    const appDatabaseUrl = await enableAppLogin(databaseUrl, developmentAppDatabasePassword);

    let temporal: ManagedProcess | null = null;
    let temporalMetricsPort: number | null = null;
    let temporalAddress = options.temporalAddress;
    if (!temporalAddress) {
      progress('making sure the Temporal CLI is built (a first build takes a few minutes)');
      const binary = ensureTemporalCli();
      temporalAddress = `${options.host}:${options.temporalPort}`;
      progress(`starting Temporal dev server on ${temporalAddress}`);
      temporalMetricsPort = options.metricsPorts?.temporal || (await freePort(options.host));
      temporal = temporalDevServer({
        binary,
        host: options.host,
        port: options.temporalPort,
        uiPort: options.temporalUiPort,
        databaseFile: options.temporalPersistent ? path.join(options.dataDir, 'temporal.sqlite') : null,
        logFile: path.join(logDir, 'temporal.log'),
        echo: options.echo,
        extraArgs: ['--metrics-port', String(temporalMetricsPort)],
      });
      await temporal.start();
      started.push({ name: 'Temporal dev server', stop: () => temporal!.close() });
    }

    const apiUrl = `http://${options.host}:${options.apiPort}`;
    const bankSimUrl = `http://${options.host}:${options.bankSimPort}`;
    const smsSimUrl = `http://${options.host}:${options.smsSimPort}`;
    const env = serviceEnvironment({ ...options, appDatabaseUrl, temporalAddress });
    const metricsEnv = (source: MetricsSource): NodeJS.ProcessEnv =>
      options.metricsPorts?.[source] === undefined ? {} : { METRICS_PORT: String(options.metricsPorts[source]) };
    const service = (name: string, entry: string, readyLine: RegExp, source: MetricsSource) =>
      new ManagedProcess({
        name,
        ...nodeEntry(path.join(projectRoot, entry)),
        cwd: projectRoot,
        env: { ...env, ...metricsEnv(source) },
        logFile: path.join(logDir, `${name}.log`),
        echo: options.echo,
        readyLine,
      });
    const bankSim = service('bank-sim', 'bank-sim/main.ts', /bank simulator listening/, 'bankSim');
    const smsSim = service('sms-sim', 'sms-sim/main.ts', /sms simulator listening/, 'smsSim');
    const worker = service('worker', 'worker.ts', /worker running/, 'worker');
    const api = service('api', 'api/main.ts', /api listening/, 'api');
    const announcedMetrics = new Map<ManagedProcess, string | null>();
    for (const [part, label] of [
      [bankSim, `bank simulator on ${bankSimUrl}`],
      [smsSim, `SMS simulator on ${smsSimUrl}`],
      [worker, 'Temporal worker'],
      [api, `API on ${apiUrl}`],
    ] as const) {
      progress(`starting ${label}`);
      // The simulators announce their metrics in a line after their ready line: listen before starting.
      const off = part.onLine((line) => {
        const url = metricsUrlIn(line);
        if (url) {
          announcedMetrics.set(part, url);
          off();
        }
      });
      await part.start();
      started.push({ name: part.spec.name, stop: () => part.close() });
    }
    return {
      databaseUrl,
      temporalAddress,
      metricsUrls: {
        api: announcedMetrics.get(api) ?? null,
        worker: announcedMetrics.get(worker) ?? null,
        bankSim: announcedMetrics.get(bankSim) ?? null,
        smsSim: announcedMetrics.get(smsSim) ?? null,
        temporal: temporalMetricsPort === null ? null : `http://${options.host}:${temporalMetricsPort}/metrics`,
      },
      urls: {
        graphql: `${apiUrl}/graphql`,
        webhooks: `${apiUrl}/webhooks/bank`,
        health: `${apiUrl}/healthz`,
        bankSim: bankSimUrl,
        smsSim: smsSimUrl,
        temporalUi: temporal && options.temporalUiPort !== null ? `http://${options.host}:${options.temporalUiPort}` : null,
      },
      postgres,
      temporal,
      bankSim,
      smsSim,
      worker,
      api,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The metrics address a service logs when it serves them. */
export function metricsUrlIn(line: string): string | null {
  return /"metricsUrl":"(http:\/\/[^"]+)"/.exec(line)?.[1] ?? null;
}

export interface LocalStackOptions {
  /** Where the data goes; a fresh temporary folder named after prefix when absent. */
  dataDir?: string;
  prefix: string;
  temporalPersistent: boolean;
  serviceEnv?: NodeJS.ProcessEnv;
  progress?: (message: string) => void;
}

/** A whole system on free loopback ports, without the Web UI: for benchmarks, drills and tools. */
export async function startLocalStack(options: LocalStackOptions): Promise<Stack & { dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), `${options.prefix}-`));
  // PostgreSQL may run as another user (see system/postgres-access.ts), which must reach its data below
  // (when a directory above is private too, the data goes to a shared place instead).
  chmodSync(dataDir, 0o755);
  const stack = await startStack({
    dataDir,
    host: '127.0.0.1',
    apiPort: await freePort(),
    bankSimPort: await freePort(),
    smsSimPort: await freePort(),
    temporalPort: await freePort(),
    temporalUiPort: null,
    postgresPort: await freePort(),
    temporalPersistent: options.temporalPersistent,
    serviceEnv: options.serviceEnv,
    // Several systems may run at once (bench, drill): every metrics endpoint on a free port.
    metricsPorts: { api: 0, worker: 0, bankSim: 0, smsSim: 0 },
    progress: options.progress,
  });
  return { ...stack, dataDir };
}

/**
 * The environment every ZenPAY process of a local system gets (the dev stack's and the cluster profile's):
 * where PostgreSQL, Temporal, the simulators and the API are, and the simulators' state files.
 */
export function serviceEnvironment(options: {
  host: string;
  apiPort: number;
  bankSimPort: number;
  smsSimPort: number;
  dataDir: string;
  appDatabaseUrl: string;
  temporalAddress: string;
  serviceEnv?: NodeJS.ProcessEnv;
}): NodeJS.ProcessEnv {
  const apiUrl = `http://${options.host}:${options.apiPort}`;
  const bankSimUrl = `http://${options.host}:${options.bankSimPort}`;
  return {
    ...process.env,
    DATABASE_URL: options.appDatabaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    API_HOST: options.host,
    API_PORT: String(options.apiPort),
    BANK_API_URL: bankSimUrl,
    BANK_SIM_HOST: options.host,
    BANK_SIM_PORT: String(options.bankSimPort),
    BANK_SIM_WEBHOOK_URL: `${apiUrl}/webhooks/bank`,
    BANK_SIM_STATE_FILE: path.join(options.dataDir, 'bank-sim.jsonl'),
    SMS_API_URL: `http://${options.host}:${options.smsSimPort}`,
    SMS_SIM_HOST: options.host,
    SMS_SIM_PORT: String(options.smsSimPort),
    SMS_SIM_STATE_FILE: path.join(options.dataDir, 'sms-sim.jsonl'),
    // The API serves the web app at /: the bank's page sends the browser back there after an on-ramp.
    WEB_APP_URL: `${apiUrl}/`,
    ...options.serviceEnv,
  };
}
