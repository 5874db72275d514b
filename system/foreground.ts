// What `npm start` does with either profile (scripts/up.ts, system/cluster-up.ts) around the system it
// starts: the observers when asked for, the table of addresses, and the foreground until Ctrl-C or
// SIGTERM, restarting any process that dies meanwhile.
import { startObservers, type Observers } from './observe';
import type { ManagedProcess } from './process';
import { superviseRestarts } from './supervise';

export interface ObserverSettings {
  ZENPAY_HOST: string;
  ZENPAY_OBSERVE: '0' | '1';
  JAEGER_QUERY_PORT: number;
  JAEGER_OTLP_HTTP_PORT: number;
  PROMETHEUS_PORT: number;
}

/** --observe (or ZENPAY_OBSERVE=1): Jaeger and Prometheus, started before the system (see startObservers). */
export async function observersIfAsked(
  flag: boolean,
  config: ObserverSettings,
  dataDir: string,
  echo: ((name: string, line: string) => void) | undefined,
  say: (message: string) => void,
): Promise<Observers | null> {
  if (!flag && config.ZENPAY_OBSERVE !== '1') return null;
  return startObservers({
    host: config.ZENPAY_HOST,
    jaegerQueryPort: config.JAEGER_QUERY_PORT,
    jaegerOtlpHttpPort: config.JAEGER_OTLP_HTTP_PORT,
    prometheusPort: config.PROMETHEUS_PORT,
    dataDir,
    echo,
    say,
  });
}

/** The start-up table: one line per address, names aligned. */
export function printAddresses(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\n${title}:\n${rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n')}\n\nCtrl-C stops everything.\n`);
}

/**
 * Keeps a started system in the foreground: restarts any of `supervised` that dies on its own, and on
 * SIGINT or SIGTERM stops the system, then its observers, and exits (0 once all stopped).
 */
export function runUntilSignalled(system: { stop(): Promise<void> }, observers: Observers | null, supervised: readonly ManagedProcess[], say: (message: string) => void): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    system
      .stop()
      .then(() => observers?.stop())
      .then(
        () => {
          say('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  superviseRestarts(supervised, { say, stopping: () => stopping });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
