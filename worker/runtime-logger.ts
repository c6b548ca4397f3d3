import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { Logger } from '../config/logger';

const LEVELS = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;
// Lines our workflows and activities wrote; the others are the SDK's own.
const OURS = new Set(['workflow', 'activity']);

/**
 * The Temporal SDK's logging (the workflows' `log`, the activities' context logger and the SDK's own
 * lines) written through the process's logger: JSON lines like the rest, filtered by LOG_LEVEL, with
 * the SDK's fields (workflowId, runId, activityType, …) beside the caller's (mailingId). The SDK's own
 * `info` lines (worker states, the bundler's report) are `debug` here, so `info` stays the service's
 * story; an activity's task token is left out.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta: LogMetadata = {}) => {
    const pinoLevel = level === 'INFO' && !OURS.has(meta.sdkComponent) ? 'debug' : LEVELS[level];
    if (!logger.isLevelEnabled(pinoLevel)) return;
    const { taskToken: _, ...fields } = meta;
    logger[pinoLevel](fields, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
