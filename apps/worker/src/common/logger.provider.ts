import { createLogger, type Logger } from '@gds/common';

export const LOGGER = Symbol('LOGGER');

export type { Logger };

export function createWorkerLogger(level: string): Logger {
  return createLogger('gds-worker', level);
}
