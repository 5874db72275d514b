// The observers `npm start -- --observe` runs beside a system (the dev profile's or the cluster's), each
// built once from its Go module: Jaeger (scripts/ensure-jaeger.sh) receiving every process's OTLP traces
// and keeping them in memory, and a Prometheus server (scripts/ensure-prometheus.sh) scraping every /metrics.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { freePort } from './ports';
import { ManagedProcess } from './process';
import { ensureBuilt } from './temporal';

/** Jaeger (scripts/ensure-jaeger.sh): its path. */
export function ensureJaeger(): string {
  return ensureBuilt('ensure-jaeger.sh');
}

/** The Prometheus server (scripts/ensure-prometheus.sh): its path. */
export function ensurePrometheus(): string {
  return ensureBuilt('ensure-prometheus.sh');
}

export interface PrometheusOptions {
  binary: string;
  host: string;
  port: number;
  /** Scrape targets by job name: each a /metrics URL. */
  targets: Record<string, string>;
  dataDir: string;
  echo?: (name: string, line: string) => void;
}

/** A Prometheus server scraping every 5 s; its data under dataDir, kept 2 days. */
export async function startPrometheus(options: PrometheusOptions): Promise<{ process: ManagedProcess; url: string }> {
  mkdirSync(path.join(options.dataDir, 'data'), { recursive: true });
  const configFile = path.join(options.dataDir, 'prometheus.yml');
  const jobs = Object.entries(options.targets).map(([job, url]) => {
    const target = new URL(url);
    return `  - job_name: ${job}\n    metrics_path: ${target.pathname}\n    static_configs:\n      - targets: ["${target.host}"]`;
  });
  writeFileSync(configFile, `# Written by system/observe.ts for this run.\nglobal:\n  scrape_interval: 5s\nscrape_configs:\n${jobs.join('\n')}\n`);
  const url = `http://${options.host}:${options.port}`;
  const process = new ManagedProcess({
    name: 'prometheus',
    command: options.binary,
    args: ['--config.file', configFile, '--storage.tsdb.path', path.join(options.dataDir, 'data'), '--storage.tsdb.retention.time', '2d', '--web.listen-address', `${options.host}:${options.port}`],
    logFile: path.join(options.dataDir, 'prometheus.log'),
    echo: options.echo,
    readyProbe: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) })).ok,
    readyTimeoutMs: 60_000,
  });
  await process.start();
  return { process, url };
}

export interface JaegerOptions {
  binary: string;
  host: string;
  /** Jaeger's query API (and UI page) over HTTP. */
  queryPort: number;
  /** Where the processes send OTLP/HTTP. */
  otlpHttpPort: number;
  dataDir: string;
  echo?: (name: string, line: string) => void;
}

export interface RunningJaeger {
  process: ManagedProcess;
  /** What the processes get as OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpEndpoint: string;
  queryUrl: string;
}

/** Jaeger v2 (an OpenTelemetry Collector distribution): OTLP/HTTP in, in-memory storage, its query API out. */
function jaegerConfig(options: JaegerOptions, queryGrpcPort: number): string {
  return `# Written by system/observe.ts for this run.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: "${options.host}:${options.queryPort}"
    grpc:
      endpoint: "${options.host}:${queryGrpcPort}"
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 50000
receivers:
  otlp:
    protocols:
      http:
        endpoint: "${options.host}:${options.otlpHttpPort}"
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export async function startJaeger(options: JaegerOptions): Promise<RunningJaeger> {
  mkdirSync(options.dataDir, { recursive: true });
  const configFile = path.join(options.dataDir, 'jaeger.yaml');
  writeFileSync(configFile, jaegerConfig(options, await freePort(options.host)));
  const queryUrl = `http://${options.host}:${options.queryPort}`;
  const process = new ManagedProcess({
    name: 'jaeger',
    command: options.binary,
    args: ['--config', configFile],
    // Jaeger traces its own queries (to OTLP's default address, where nothing listens here): not wanted.
    env: { ...globalThis.process.env, OTEL_TRACES_SAMPLER: 'always_off', OTEL_TRACES_EXPORTER: 'none' },
    logFile: path.join(options.dataDir, 'jaeger.log'),
    echo: options.echo,
    readyProbe: async () => (await fetch(`${queryUrl}/api/services`, { signal: AbortSignal.timeout(1_000) })).ok,
    readyTimeoutMs: 60_000,
  });
  await process.start();
  return { process, otlpEndpoint: `http://${options.host}:${options.otlpHttpPort}`, queryUrl };
}

const port = z.coerce.number().int().min(1).max(65535);
/** The observers' settings, in both profiles' configuration. */
export const observeConfigShape = {
  /** 1: as `--observe`. */
  ZENPAY_OBSERVE: z.enum(['0', '1']).default('0'),
  JAEGER_QUERY_PORT: port.default(16686),
  JAEGER_OTLP_HTTP_PORT: port.default(4318),
  PROMETHEUS_PORT: port.default(9090),
};

export interface ObserversOptions {
  host: string;
  jaegerQueryPort: number;
  jaegerOtlpHttpPort: number;
  prometheusPort: number;
  /** Jaeger's and Prometheus's state go below it. */
  dataDir: string;
  echo?: (name: string, line: string) => void;
  say: (message: string) => void;
}

export interface Observers {
  /** For every process of the system: where to send traces. */
  serviceEnv: NodeJS.ProcessEnv;
  /** Starts Prometheus scraping these /metrics URLs (by job name), once the system's processes are up. */
  scrape(targets: Record<string, string>): Promise<void>;
  /** The lines of the start-up table that tell where to look. */
  rows(): Array<[string, string]>;
  stop(): Promise<void>;
}

/**
 * --observe, before the system starts: both observers built (no build while the system runs) and Jaeger
 * up, so that every process exports its traces to it from its first span. Prometheus follows with scrape().
 */
export async function startObservers(options: ObserversOptions): Promise<Observers> {
  options.say('making sure Jaeger and the Prometheus server are built (a first build takes 15 to 30 minutes each)');
  const jaegerBinary = ensureJaeger();
  const prometheusBinary = ensurePrometheus();
  options.say(`starting Jaeger (OTLP/HTTP on ${options.host}:${options.jaegerOtlpHttpPort})`);
  const jaeger = await startJaeger({
    binary: jaegerBinary,
    host: options.host,
    queryPort: options.jaegerQueryPort,
    otlpHttpPort: options.jaegerOtlpHttpPort,
    dataDir: path.join(options.dataDir, 'jaeger'),
    echo: options.echo,
  });
  let prometheus: { process: ManagedProcess; url: string } | null = null;
  return {
    serviceEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint },
    async scrape(targets) {
      options.say(`starting Prometheus on ${options.host}:${options.prometheusPort}, scraping ${Object.keys(targets).join(', ')}`);
      prometheus = await startPrometheus({ binary: prometheusBinary, host: options.host, port: options.prometheusPort, targets, dataDir: path.join(options.dataDir, 'prometheus'), echo: options.echo });
    },
    rows: () => [
      ['Traces (Jaeger query API)', `${jaeger.queryUrl}/api/traces?service=zenpay-api`],
      ['Prometheus (query API; targets: /api/v1/targets)', prometheus ? `${prometheus.url}/api/v1/query?query=zenpay_payment_outcomes_total` : 'not started'],
    ],
    async stop() {
      await prometheus?.process.close();
      await jaeger.process.close();
    },
  };
}

/** The start-up table's lines for the observers, or the command that turns them on. */
export function observerRows(observers: Observers | null, turnOn: string): Array<[string, string]> {
  if (observers) return observers.rows();
  return [
    ['Traces (Jaeger query API)', `off (${turnOn})`],
    ['Prometheus (query API)', `off (${turnOn})`],
  ];
}
