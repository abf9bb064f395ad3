import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON event per line on stdout. Base fields name the service; secrets are redacted wherever they appear in
 * the usual places.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // `logger.info({ ...fields }, 'execution.finished')` and `logger.info({ event: 'execution.finished' })` both
    // yield one `event` field, the stable dotted name every log line is searched by.
    messageKey: 'event',
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['token', 'password', '*.token', '*.password', 'authorization', '*.authorization', 'databaseUrl'],
      censor: '[redacted]',
    },
  });
}
