// Structured logging for every ZenPAY process: one JSON object a line, secrets redacted by path.
import pino, { type Logger } from 'pino';
import { logCorrelation } from './correlation';

export type { Logger };

const redactedPaths = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  'bankAccount',
  '*.bankAccount',
];

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // The current transaction (and trace) on every line made on its behalf (common/correlation.ts).
    mixin: logCorrelation,
  });
}

/**
 * Logs a lifecycle line (listening, running, stopped) whatever LOG_LEVEL says: supervisors and
 * tests wait for these lines to know a process is ready.
 */
export function announce(log: Logger, fields: Record<string, unknown>, message: string): void {
  log.child({}, { level: 'info' }).info(fields, message);
}
