import { createLogger, type Logger } from '@gds/common';

export const LOGGER = Symbol('LOGGER');

export type { Logger };

export function createApiLogger(level: string): Logger {
  return createLogger('gds-api', level);
}
