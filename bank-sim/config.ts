// The bank simulator's configuration: defaults, limits, and the environment read and checked (zod) at start-up.
// The development webhook secret lives here so that the API server can default to the same one.
import { z } from 'zod';

// The development webhook secret is shared with the API's defaults (common/development.ts).
import { developmentWebhookSecret } from '../common/development';
export { developmentWebhookSecret };

/** Immediately, then 1 s, 5 s, 30 s, 2 min and 10 min after each failed attempt; then the bank gives up. */
export const defaultWebhookRetryScheduleMs: readonly number[] = [0, 1_000, 5_000, 30_000, 120_000, 600_000];

export const defaultHost = '127.0.0.1';
export const defaultPort = 4100;
export const defaultWebhookUrl = 'http://127.0.0.1:4000/webhooks/bank';
export const defaultDeliveryTimeoutMs = 5_000;

// Standard Webhooks: a secret is "whsec_" then base64 of 24 to 64 random bytes.
export const webhookSecretPrefix = 'whsec_';
export const webhookSecretBytesMin = 24;
export const webhookSecretBytesMax = 64;
export const webhookSecretsMax = 8;

// Timers in Node hold at most 2^31-1 ms; one day keeps every delay well inside that.
export const delayMsMax = 86_400_000;
export const retryAttemptsMax = 20;
export const deliveryTimeoutMsMax = 60_000;

/** Returns null when the secret is well formed, otherwise why it is not. Never echoes the secret. */
export function webhookSecretProblem(secret: string): string | null {
  if (!secret.startsWith(webhookSecretPrefix)) return `a webhook secret must start with "${webhookSecretPrefix}"`;
  const encoded = secret.slice(webhookSecretPrefix.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return `a webhook secret must be "${webhookSecretPrefix}" followed by standard base64`;
  }
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < webhookSecretBytesMin || bytes > webhookSecretBytesMax) {
    return `a webhook secret must decode to ${webhookSecretBytesMin} to ${webhookSecretBytesMax} bytes, not ${bytes}`;
  }
  return null;
}

export const webhookSecretSchema = z.string().superRefine((secret, context) => {
  const problem = webhookSecretProblem(secret);
  if (problem !== null) context.addIssue({ code: 'custom', message: problem });
});

export const httpUrlSchema = z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).max(2048);

export const retryScheduleMsSchema = z
  .array(z.int().min(0).max(delayMsMax))
  .min(1)
  .max(retryAttemptsMax);

// Environment variables are text; an empty one counts as unset.
const unsetWhenEmpty = (value: unknown) => (value === '' ? undefined : value);
const commaList = (value: unknown) =>
  typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter((item) => item !== '') : value;
const wholeNumberText = (minimum: number, maximum: number) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]{1,10}$/, 'must be a whole number written in digits')
    .transform(Number)
    .pipe(z.int().min(minimum).max(maximum));

const environmentSchema = z.object({
  BANK_SIM_HOST: z.preprocess(unsetWhenEmpty, z.string().max(255).default(defaultHost)),
  BANK_SIM_PORT: z.preprocess(unsetWhenEmpty, wholeNumberText(0, 65_535).optional()),
  BANK_SIM_PUBLIC_URL: z.preprocess(unsetWhenEmpty, httpUrlSchema.optional()),
  BANK_SIM_WEBHOOK_URL: z.preprocess(unsetWhenEmpty, httpUrlSchema.default(defaultWebhookUrl)),
  BANK_SIM_WEBHOOK_SECRETS: z.preprocess(
    unsetWhenEmpty,
    z.preprocess(commaList, z.array(webhookSecretSchema).min(1).max(webhookSecretsMax)).optional(),
  ),
  BANK_SIM_RETRY_SCHEDULE_MS: z.preprocess(
    unsetWhenEmpty,
    z.preprocess(commaList, z.array(wholeNumberText(0, delayMsMax)).min(1).max(retryAttemptsMax)).optional(),
  ),
  BANK_SIM_STATE_FILE: z.preprocess(unsetWhenEmpty, z.string().max(4096).optional()),
  BANK_SIM_SEED: z.preprocess(unsetWhenEmpty, wholeNumberText(0, 0xffff_ffff).optional()),
  BANK_SIM_DELIVERY_TIMEOUT_MS: z.preprocess(unsetWhenEmpty, wholeNumberText(1, deliveryTimeoutMsMax).optional()),
  LOG_LEVEL: z.preprocess(
    unsetWhenEmpty,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
});

export interface BankSimulatorEnvironment {
  host: string;
  port: number;
  publicUrl: string | null;
  webhookUrl: string;
  webhookSecrets: string[];
  webhookRetryScheduleMs: number[];
  stateFile: string | null;
  seed: number | null;
  deliveryTimeoutMs: number;
  logLevel: string;
}

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Reads the environment. Throws ConfigurationError naming every bad variable (never its secret value). */
export function readEnvironment(environment: NodeJS.ProcessEnv): BankSimulatorEnvironment {
  const parsed = environmentSchema.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigurationError(`invalid bank simulator configuration: ${problems.join('; ')}`);
  }
  const value = parsed.data;
  // Even a simulator signs with a secret a production API trusts: never the public development one there.
  const webhookSecrets = value.BANK_SIM_WEBHOOK_SECRETS ?? [developmentWebhookSecret];
  if (environment.NODE_ENV === 'production' && webhookSecrets.includes(developmentWebhookSecret)) {
    throw new ConfigurationError('invalid bank simulator configuration: BANK_SIM_WEBHOOK_SECRETS: must be set (not the public development secret) when NODE_ENV=production');
  }
  return {
    host: value.BANK_SIM_HOST,
    port: value.BANK_SIM_PORT ?? defaultPort,
    publicUrl: value.BANK_SIM_PUBLIC_URL === undefined ? null : value.BANK_SIM_PUBLIC_URL.replace(/\/+$/, ''),
    webhookUrl: value.BANK_SIM_WEBHOOK_URL,
    webhookSecrets,
    webhookRetryScheduleMs: value.BANK_SIM_RETRY_SCHEDULE_MS ?? [...defaultWebhookRetryScheduleMs],
    stateFile: value.BANK_SIM_STATE_FILE ?? null,
    seed: value.BANK_SIM_SEED ?? null,
    deliveryTimeoutMs: value.BANK_SIM_DELIVERY_TIMEOUT_MS ?? defaultDeliveryTimeoutMs,
    logLevel: value.LOG_LEVEL,
  };
}
