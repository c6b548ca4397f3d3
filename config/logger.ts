import pino from 'pino';
import { secretKeys } from './index';

/**
 * One JSON logger for every process. Domain ids are logged as fields (`clientId`, `mailingId`,
 * `messageId`) so one entity's history can be pulled out of the logs with a filter.
 */
export function createLogger(level: string, name: string) {
  return pino({
    name,
    level,
    redact: {
      paths: [...secretKeys, ...secretKeys.map((k) => `*.${k}`), 'authorization', '*.authorization', 'headers.authorization', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}

export type Logger = pino.Logger;
