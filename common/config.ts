// Typed configuration for every process, read from the environment and checked at start-up with zod.
// Every setting has a default for a local system; a bad value stops the process with a clear message.
import { z } from 'zod';
import { workerTuningDefaults } from './worker-tuning';
import { bankApiTimeoutMsMax } from './bank';
import { developmentAppDatabasePassword, developmentBanks, developmentWebhookSecret } from './development';
import { defaultReviewScore, parseFraudRuleOverrides } from './fraud-rules';
import { parseLimitOverrides } from './limits';

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
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
};

/** Database passwords written in this repository (development and tests): never in production. */
const developmentDatabasePasswords = new Set(['', 'zenpay', 'postgres', developmentAppDatabasePassword]);

/**
 * A production process refuses to start on anything public in this repository or meant for
 * development only: a database URL with a known password or the superuser, the development webhook
 * secret, introspection. Each refusal names the variable and says what to do.
 */
function refuseDevelopmentValues(
  config: { NODE_ENV: string; DATABASE_URL?: string; BANK_WEBHOOK_SECRETS?: string[]; GRAPHQL_INTROSPECTION?: string },
  context: z.RefinementCtx,
): void {
  if (config.NODE_ENV !== 'production') return;
  const refuse = (variable: string, message: string) => context.addIssue({ code: 'custom', path: [variable], message });
  if (config.DATABASE_URL !== undefined) {
    const url = new URL(config.DATABASE_URL);
    if (developmentDatabasePasswords.has(decodeURIComponent(url.password)) || url.username === 'postgres') {
      refuse('DATABASE_URL', 'must name the application role (zenpay_app) with a password of its own when NODE_ENV=production');
    }
  }
  if (config.BANK_WEBHOOK_SECRETS?.includes(developmentWebhookSecret)) {
    refuse('BANK_WEBHOOK_SECRETS', 'must be set to the bank\'s own secrets (not the public development secret) when NODE_ENV=production');
  }
  if (config.GRAPHQL_INTROSPECTION === 'true') refuse('GRAPHQL_INTROSPECTION', 'must not be true when NODE_ENV=production');
}

/** A rate limit written "points/seconds": at most that many in that many seconds. */
const rateLimit = z
  .string()
  .regex(/^[1-9][0-9]{0,8}\/[1-9][0-9]{0,7}$/, 'must be "points/seconds", e.g. 10/3600')
  .transform((value) => {
    const [points, durationSeconds] = value.split('/').map(Number) as [number, number];
    return { points, durationSeconds };
  });
export type RateLimitSetting = z.output<typeof rateLimit>;

/** Development only: in production PHONE_CODE_SECRET must be set to a key of one's own. */
export const developmentPhoneCodeSecret = 'zenpay-development-phone-code-key-do-not-use-in-production';

/**
 * Development only: the key under which TOTP secrets are encrypted (32 bytes, base64). In production
 * TWO_FACTOR_ENCRYPTION_KEY must be set to a key of one's own (`openssl rand -base64 32`).
 */
export const developmentTwoFactorEncryptionKey = 'emVucGF5LWRldi0yZmEta2V5LW5vdC1mb3ItcHJvZCE=';

/** 32 random bytes in standard base64 (44 characters), e.g. from `openssl rand -base64 32`. */
const aes256KeyBase64 = z
  .string()
  .refine((value) => /^[A-Za-z0-9+/]{43}=$/.test(value) && Buffer.from(value, 'base64').length === 32, 'must be 32 bytes in base64 (openssl rand -base64 32)');

const onOff = z.enum(['true', 'false']).transform((value) => value === 'true');

/** A table's overrides: parsed with its own parser, whose message names the bad entry. */
const overrides = <T>(parse: (text: string) => T) =>
  z.string().transform((text, context) => {
    try {
      return parse(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/** Payment limits, fraud rules and review (README, "Fraud and limits"). */
const fraudConfig = {
  PAYMENT_LIMITS_ENABLED: onOff.default(true),
  /** Overrides of common/limits.ts's table: "TIER.LIMIT=paise,...". */
  PAYMENT_LIMITS: overrides(parseLimitOverrides).prefault(''),
  FRAUD_RULES_ENABLED: onOff.default(true),
  /** Overrides of common/fraud-rules.ts's table: "RULE.threshold=n,RULE.windowSeconds=n,RULE.weight=n,...". */
  FRAUD_RULES: overrides(parseFraudRuleOverrides).prefault(''),
  /** A payment scoring this or more waits IN_REVIEW for an operator. */
  FRAUD_REVIEW_SCORE: z.coerce.number().int().min(1).max(100_000).default(defaultReviewScore),
  /** How long a payment waits in review before it is rejected (REVIEW_TIMEOUT); whole seconds, rounded up. */
  REVIEW_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(30 * 86_400_000).default(86_400_000),
  OPERATOR_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 86_400).default(8 * 3600),
};

/** Phone verification, rate limits, sessions and WebSocket limits (README, "Identity and access"). */
const identityConfig = {
  /** The SMS provider's API (the SMS simulator's, sms-sim/). */
  SMS_API_URL: z.string().url().default('http://127.0.0.1:4300'),
  SMS_API_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** The key of the HMAC under which one-time codes are stored. */
  PHONE_CODE_SECRET: z.string().min(32).default(developmentPhoneCodeSecret),
  PHONE_CODE_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  PHONE_CODE_ATTEMPTS_MAX: z.coerce.number().int().min(1).max(20).default(5),
  /** The key under which TOTP secrets are stored (AES-256-GCM) and recovery codes hashed (HMAC), each a subkey. */
  TWO_FACTOR_ENCRYPTION_KEY: aes256KeyBase64.default(developmentTwoFactorEncryptionKey),
  /** How many proxies in front of the API append to X-Forwarded-For (0: the TCP peer is the client). */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(5).default(0),
  RATE_LIMIT_SIGN_IN_FAILURES_PER_PHONE_ADDRESS: rateLimit.prefault('5/900'),
  RATE_LIMIT_SIGN_IN_FAILURES_PER_PHONE: rateLimit.prefault('20/3600'),
  RATE_LIMIT_SIGN_IN_FAILURES_PER_ADDRESS: rateLimit.prefault('100/3600'),
  /** The first lock-out after too many failures; each further one within a day doubles, up to the maximum. */
  SIGN_IN_BACKOFF_BASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  SIGN_IN_BACKOFF_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  RATE_LIMIT_CODES_PER_PHONE: rateLimit.prefault('3/900'),
  RATE_LIMIT_CODES_PER_ADDRESS: rateLimit.prefault('20/3600'),
  RATE_LIMIT_SIGN_UPS_PER_PHONE: rateLimit.prefault('10/3600'),
  RATE_LIMIT_SIGN_UPS_PER_ADDRESS: rateLimit.prefault('10/3600'),
  RATE_LIMIT_MUTATIONS_PER_USER: rateLimit.prefault('120/60'),
  RATE_LIMIT_PAYEE_LOOKUPS_PER_USER: rateLimit.prefault('30/3600'),
  /** Wrong second-factor codes (TOTP or recovery) of one user, whatever they were for. */
  RATE_LIMIT_SECOND_FACTOR_PER_USER: rateLimit.prefault('5/300'),
  /** Step-up: payments of more than this many paise wait for the user's second factor (AWAITING_CONFIRMATION). */
  STEP_UP_AMOUNT_OVER: z.string().regex(/^[0-9]{1,15}$/, 'must be an amount in paise').default('1000000').transform(BigInt),
  /** Step-up for the first payment to a payee, and the first withdrawal to a bank account. */
  STEP_UP_NEW_PAYEE: z.enum(['true', 'false']).default('true').transform((value) => value === 'true'),
  STEP_UP_NEW_BANK_ACCOUNT: z.enum(['true', 'false']).default('true').transform((value) => value === 'true'),
  PAYMENT_CONFIRMATION_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  PAYMENT_CONFIRMATION_ATTEMPTS_MAX: z.coerce.number().int().min(1).max(10).default(3),
  /** Every open session-bound WebSocket has its session checked again at least this often. */
  SESSION_RECHECK_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(60_000),
  WS_SOCKETS_PER_USER_MAX: z.coerce.number().int().min(1).max(1000).default(10),
  WS_SUBSCRIPTIONS_PER_SOCKET_MAX: z.coerce.number().int().min(1).max(1000).default(20),
};

export const apiConfigSchema = z.object({
  ...shared,
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(4000),
  /** Several API processes share API_PORT (SO_REUSEPORT: the kernel spreads connections among them). */
  API_REUSE_PORT: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  /** A second port of this process alone, beside a shared API_PORT: to reach one instance in particular. */
  API_INSTANCE_PORT: port.optional(),
  SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(90 * 24 * 3600).default(7 * 24 * 3600),
  /** How long a mutation waits for its workflow to finish before answering PENDING. */
  MUTATION_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(5_000),
  GRAPHQL_ALLOWED_ORIGINS: commaList.default([]),
  /** Unset: on in development, off in production (where true is refused). */
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
  /** Every secret that may sign a bank webhook (several during a rotation). */
  BANK_WEBHOOK_SECRETS: commaList
    .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by base64')).min(1))
    .default([developmentWebhookSecret]),
  /** 'inline' only for the benchmark's api-direct baseline: transfers without a workflow. */
  TRANSFER_EXECUTION: z.enum(['workflow', 'inline']).default('workflow'),
  /**
   * 'true': this API process also runs a worker (the worker's settings, from the same environment), and
   * transfers are started eagerly: Temporal hands the first workflow task back in the start's answer and
   * this process runs it, saving a matching round trip (README "Performance"). Off by default: it makes
   * the API a worker too.
   */
  API_EAGER_START: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  /** Bank codes accepted by addMoney and withdraw. */
  SUPPORTED_BANKS: commaList.pipe(z.array(z.string().regex(/^[A-Z]{2,16}$/)).min(1)).default([...developmentBanks]),
  ...identityConfig,
  ...fraudConfig,
}).superRefine((config, context) => {
  refuseDevelopmentValues(config, context);
  // A production API must not run on the development key that everyone can read in this repository.
  if (config.NODE_ENV === 'production' && config.PHONE_CODE_SECRET === developmentPhoneCodeSecret) {
    context.addIssue({ code: 'custom', path: ['PHONE_CODE_SECRET'], message: 'must be set (not the development key) when NODE_ENV=production' });
  }
  if (config.NODE_ENV === 'production' && config.TWO_FACTOR_ENCRYPTION_KEY === developmentTwoFactorEncryptionKey) {
    context.addIssue({ code: 'custom', path: ['TWO_FACTOR_ENCRYPTION_KEY'], message: 'must be set (not the development key) when NODE_ENV=production' });
  }
}).transform((config) => ({
  ...config,
  GRAPHQL_INTROSPECTION: config.GRAPHQL_INTROSPECTION === undefined ? config.NODE_ENV !== 'production' : config.GRAPHQL_INTROSPECTION === 'true',
}));
export type ApiConfig = z.infer<typeof apiConfigSchema>;

/** How workers poll Temporal (common/worker-tuning.ts); the benchmark's noop-workflow worker reads the same. */
export const workerTuningFields = {
  /** Workflow-task pollers in all; with WORKER_STICKY_POLL_RATIO of them on the normal queue (at least 1). */
  WORKER_WORKFLOW_TASK_POLLERS: z.coerce.number().int().min(2).max(200).default(workerTuningDefaults.WORKER_WORKFLOW_TASK_POLLERS),
  WORKER_STICKY_POLL_RATIO: z.coerce.number().min(0).max(1).default(workerTuningDefaults.WORKER_STICKY_POLL_RATIO),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(1).max(100_000).optional(),
};

export const workerConfigSchema = z.object({
  ...shared,
  BANK_API_URL: z.string().url().default(defaults.bankApiUrl),
  BANK_API_TIMEOUT_MS: positiveMs.max(bankApiTimeoutMsMax).default(5_000),
  /** A bank unreachable (or answering 408/429/5xx) this long ends a payment FAILED with BANK_UNAVAILABLE. */
  BANK_UNAVAILABLE_AFTER_MS: positiveMs.default(10 * 60 * 1000),
  /** How often the reconciler (a Temporal Schedule) looks for payments left unfinished; 0 turns it off. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  /** A transaction not final this long after its last change, whose workflow is closed or missing, is reconciled. */
  RECONCILE_STALE_AFTER_MS: positiveMs.default(30_000),
  /** How long an on-ramp or payout waits for the bank's webhook before asking the bank's status API. */
  BANK_DECISION_TIMEOUT_MS: positiveMs.default(15 * 60 * 1000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(1000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(1).max(1000).default(100),
  /** Scheduled payments' runs are limited and scored as sendMoney is: the same settings as the API's. */
  ...fraudConfig,
  ...workerTuningFields,
  /** Outbox events older than this are pruned; a subscriber resuming from before them must refetch. */
  EVENT_RETENTION_MS: positiveMs.default(7 * 24 * 3600 * 1000),
  EVENT_PRUNE_INTERVAL_MS: positiveMs.default(3600 * 1000),
  TEMPORAL_SDK_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  /**
   * The web app's address (e.g. https://pay.example): the bank's page sends the browser back to
   * <WEB_APP_URL>/add-money/return?transaction=<id> after an on-ramp. Unset: the bank shows its own page.
   */
  WEB_APP_URL: z.string().url().regex(/^https?:\/\//, 'must be an http(s) URL').optional(),
}).superRefine(refuseDevelopmentValues);
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
