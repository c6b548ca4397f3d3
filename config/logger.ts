import pino from 'pino';
import pretty from 'pino-pretty';
import { secretKeys } from './index';

/**
 * One logger for every process. Domain ids are logged as fields (`clientId`, `mailingId`,
 * `messageId`) so one entity's history can be pulled out of the logs with a filter
 * (`jq 'select(.messageId == 123)'`).
 *
 * JSON lines, except on a terminal: there a person reads them, so they are pretty-printed
 * (pino-pretty, in-process and synchronous, no worker thread). Piped, redirected or in a container,
 * the output is JSON for a log store. `destination` sends the JSON elsewhere (tests capture it).
 */
export function createLogger(level: string, name: string, destination?: pino.DestinationStream) {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: {
      paths: [...secretKeys, ...secretKeys.map((k) => `*.${k}`), 'authorization', '*.authorization', 'headers.authorization', 'token', '*.token'],
      censor: '[redacted]',
    },
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) return pino(options, pretty({ sync: true, colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  return pino(options);
}

export type Logger = pino.Logger;
