// The observers `npm start -- --observe` runs beside a system, each built once from its Go module:
// Jaeger (scripts/ensure-jaeger.sh) receiving every process's OTLP traces and keeping them in memory,
// and a Prometheus server (scripts/ensure-prometheus.sh) scraping every process's /metrics.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './ports';
import { ManagedProcess } from './process';
import { projectRoot } from './temporal';

/** Builds Jaeger once into a cache outside the checkout (or finds it) and returns its path. */
export function ensureJaeger(): string {
  const output = execFileSync('bash', [path.join(projectRoot, 'scripts', 'ensure-jaeger.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return output.trim().split('\n').at(-1)!;
}

/** Builds the Prometheus server once into a cache outside the checkout (or finds it) and returns its path. */
export function ensurePrometheus(): string {
  const output = execFileSync('bash', [path.join(projectRoot, 'scripts', 'ensure-prometheus.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return output.trim().split('\n').at(-1)!;
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
