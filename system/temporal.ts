// The Temporal dev server (`temporal server start-dev`): SQLite persistence in a file (or memory), the
// Web UI, and ZenPAY's search attributes registered at start.
import { Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { searchAttributeDefinitions } from '../common/transactions';
import { ManagedProcess } from './process';

export const projectRoot = path.resolve(__dirname, '..');

/**
 * Runs one of scripts/ensure-*.sh, which builds a pinned program once into a cache outside the checkout
 * (or finds it), its progress on this process's stderr; returns the path it prints last.
 */
export function ensureBuilt(script: string): string {
  const output = execFileSync('bash', [path.join(projectRoot, 'scripts', script)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return output.trim().split('\n').at(-1)!;
}

/** The pinned Temporal CLI (scripts/ensure-temporal.sh): its path. */
export function ensureTemporalCli(): string {
  return ensureBuilt('ensure-temporal.sh');
}

export interface TemporalDevServerOptions {
  binary: string;
  host: string;
  port: number;
  /** null: no Web UI (tests). */
  uiPort: number | null;
  /** null: in memory, lost when the process stops. */
  databaseFile: string | null;
  logFile?: string;
  echo?: (name: string, line: string) => void;
  extraArgs?: readonly string[];
}

export async function temporalReachable(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 }).catch(() => null);
  if (!connection) return false;
  try {
    await connection.workflowService.getSystemInfo({});
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

/**
 * Dynamic config suggested for the dev server by a profile of it: one task-queue partition (the dev
 * server is one process: four partitions only spread a few pollers thin and spill tasks to the database),
 * and no forced refresh of the search-attribute cache on every read. Measured A/B twice each on this
 * machine (README "Performance") the difference stayed inside the run-to-run noise, so it is not the
 * default: `TEMPORAL_DEV_TUNING=on` applies it, anything else runs the CLI's defaults.
 */
export const devServerDynamicConfig: Readonly<Record<string, string>> = {
  'matching.numTaskqueueReadPartitions': '1',
  'matching.numTaskqueueWritePartitions': '1',
  'system.forceSearchAttributesCacheRefreshOnRead': 'false',
};

export function devServerTuningArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TEMPORAL_DEV_TUNING !== 'on') return [];
  return Object.entries(devServerDynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]);
}

export function temporalDevServer(options: TemporalDevServerOptions): ManagedProcess {
  const args = ['server', 'start-dev', '--ip', options.host, '--port', String(options.port), '--log-level', 'warn'];
  if (options.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort));
  if (options.databaseFile) {
    // SQLite's defaults (rollback journal, synchronous=FULL) fsync several times per commit. WAL with
    // synchronous=NORMAL keeps every commit across a crash of the process (not of the machine's power)
    // at a fraction of the cost: the durability a development server needs.
    args.push('--db-filename', options.databaseFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  }
  for (const definition of searchAttributeDefinitions) args.push('--search-attribute', definition);
  args.push(...devServerTuningArgs());
  args.push(...(options.extraArgs ?? []));
  const address = `${options.host}:${options.port}`;
  return new ManagedProcess({
    name: 'temporal',
    command: options.binary,
    args,
    logFile: options.logFile,
    echo: options.echo,
    readyProbe: () => temporalReachable(address),
    readyTimeoutMs: 60_000,
  });
}
