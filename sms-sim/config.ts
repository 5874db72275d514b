// The SMS simulator's configuration: defaults, limits, and the environment read and checked (zod) at start-up.
import { z } from 'zod';

export const defaultHost = '127.0.0.1';
export const defaultPort = 4300;

// Storage is bounded: a phone keeps its newest messages, the simulator its newest overall.
export const messagesPerPhoneMax = 50;
export const messagesMax = 100_000;
export const bodyLengthMax = 1_600;
export const referenceLengthMax = 255;
export const requestBodyBytesMax = 16 * 1024;
/** Messages held back by delayMs at one time; past that, new ones are answered 503. */
export const delayedMessagesMax = 10_000;
export const delayMsMax = 600_000;

const unsetWhenEmpty = (value: unknown) => (value === '' ? undefined : value);
const wholeNumberText = (minimum: number, maximum: number) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]{1,10}$/, 'must be a whole number written in digits')
    .transform(Number)
    .pipe(z.int().min(minimum).max(maximum));

const environmentSchema = z.object({
  SMS_SIM_HOST: z.preprocess(unsetWhenEmpty, z.string().max(255).default(defaultHost)),
  SMS_SIM_PORT: z.preprocess(unsetWhenEmpty, wholeNumberText(0, 65_535).default(defaultPort)),
  SMS_SIM_STATE_FILE: z.preprocess(unsetWhenEmpty, z.string().max(4096).optional()),
  LOG_LEVEL: z.preprocess(unsetWhenEmpty, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
});

export interface SmsSimulatorEnvironment {
  host: string;
  port: number;
  stateFile: string | null;
  logLevel: string;
}

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Reads the environment; throws ConfigurationError naming every bad variable. */
export function readEnvironment(environment: NodeJS.ProcessEnv): SmsSimulatorEnvironment {
  const parsed = environmentSchema.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigurationError(`invalid SMS simulator configuration: ${problems.join('; ')}`);
  }
  return {
    host: parsed.data.SMS_SIM_HOST,
    port: parsed.data.SMS_SIM_PORT,
    stateFile: parsed.data.SMS_SIM_STATE_FILE ?? null,
    logLevel: parsed.data.LOG_LEVEL,
  };
}
