// Typed configuration for every process, read from the environment and checked at start-up with zod.
// Every setting has a default for a local system; a bad value stops the process with a clear message.
import { z } from 'zod';
import { developmentBanks, developmentWebhookSecret } from './development';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();
const commaList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean));

export const defaults = {
  databaseUrl: 'postgres://postgres:zenpay@127.0.0.1:5433/zenpay',
  temporalAddress: '127.0.0.1:7233',
  temporalNamespace: 'default',
  taskQueue: 'zenpay-payments',
  bankApiUrl: 'http://127.0.0.1:4100',
} as const;

const shared = {
  DATABASE_URL: z.string().url().default(defaults.databaseUrl),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  TEMPORAL_ADDRESS: z.string().min(3).default(defaults.temporalAddress),
  TEMPORAL_NAMESPACE: z.string().min(1).default(defaults.temporalNamespace),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(defaults.taskQueue),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export const apiConfigSchema = z.object({
  ...shared,
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(4000),
  SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(90 * 24 * 3600).default(7 * 24 * 3600),
  /** How long a mutation waits for its workflow to finish before answering PENDING. */
  MUTATION_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(5_000),
  GRAPHQL_ALLOWED_ORIGINS: commaList.default([]),
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).default('true').transform((value) => value === 'true'),
  /** Every secret that may sign a bank webhook (several during a rotation). */
  BANK_WEBHOOK_SECRETS: commaList
    .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by base64')).min(1))
    .default([developmentWebhookSecret]),
  /** 'inline' only for the benchmark's api-direct baseline: transfers without a workflow. */
  TRANSFER_EXECUTION: z.enum(['workflow', 'inline']).default('workflow'),
  /** Bank codes accepted by addMoney and withdraw. */
  SUPPORTED_BANKS: commaList.pipe(z.array(z.string().regex(/^[A-Z]{2,16}$/)).min(1)).default([...developmentBanks]),
});
export type ApiConfig = z.infer<typeof apiConfigSchema>;

export const workerConfigSchema = z.object({
  ...shared,
  BANK_API_URL: z.string().url().default(defaults.bankApiUrl),
  BANK_API_TIMEOUT_MS: positiveMs.max(60_000).default(5_000),
  /** How long an on-ramp or payout waits for the bank's webhook before asking the bank's status API. */
  BANK_DECISION_TIMEOUT_MS: positiveMs.default(15 * 60 * 1000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(1000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(1).max(1000).default(100),
  /** Transactions still PENDING after this long without a workflow are (re)started by the sweeper. */
  SWEEP_STALE_AFTER_MS: positiveMs.default(30_000),
  SWEEP_INTERVAL_MS: positiveMs.default(15_000),
  /** Outbox events older than this are pruned; a subscriber resuming from before them must refetch. */
  EVENT_RETENTION_MS: positiveMs.default(7 * 24 * 3600 * 1000),
  EVENT_PRUNE_INTERVAL_MS: positiveMs.default(3600 * 1000),
  TEMPORAL_SDK_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment with a schema; throws ConfigError naming every bad variable. */
export function loadConfig<T extends z.ZodTypeAny>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}

/** For process entry points: load the configuration or exit with a clear message. */
export function loadConfigOrExit<T extends z.ZodTypeAny>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
