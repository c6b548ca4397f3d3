import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProvider } from '../activities/provider';
import { createStatsMailer } from '../activities/stats-mailer';
import { loadConfig, requireSetting, sendLimits, statsEmailSettings } from '../config';
import { createLogger, type Logger } from '../config/logger';
import { temporalConnectionOptions } from '../config/temporal';
import { createMailingService } from '../domain/mailings';
import { connectDatabase, schemaIsCurrent, type Database } from '../storage/database';
import { ensureDailyStatsSchedule } from './daily-stats-schedule';
import { installRuntime, serveWorkerMetrics } from './metrics';
import { temporalLogger } from './runtime-logger';
import { createMailingWorker, ensureReconcileSchedule } from './worker';

const SCHEMA_RECHECK_MS = 2_000;

/**
 * Waits until the database has every migration of this code: a worker of a new release takes no work
 * while its release's migration Job runs (activities would meet the old schema). Says so every 30 s.
 */
async function schemaApplied(db: Database, logger: Logger): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      return await schemaIsCurrent(db);
    } catch (error) {
      if (tries % 15 === 0) logger.warn({ err: error }, 'waiting for the database schema before taking work');
      await sleep(SCHEMA_RECHECK_MS);
    }
  }
}

/** The worker process (`npm run worker`); scale out by running more of them on the same task queue. */
async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  installRuntime({ logger: temporalLogger(logger) }, config, logger);
  const metrics = await serveWorkerMetrics(config, logger);
  const db = connectDatabase(requireSetting(config, 'DATABASE_URL'), config.DATABASE_POOL_MAX);
  await schemaApplied(db, logger);
  const temporal = temporalConnectionOptions(config);
  const connection = await NativeConnection.connect(temporal);
  const client = new Client({ connection: await Connection.connect(temporal), namespace: config.TEMPORAL_NAMESPACE });
  const provider = createProvider({
    url: config.SEND_API_URL,
    token: requireSetting(config, 'SEND_API_TOKEN'),
    timeoutMs: config.SEND_TIMEOUT_MS,
    connections: config.SEND_CONCURRENCY,
    logger,
  });
  const statsEmail = statsEmailSettings(config);
  // A schedule that e-mails nobody, or a worker that could not send what it schedules, is a mistake to stop at.
  if (statsEmail.recipients.length > 0) requireSetting(config, 'SMTP_URL');
  const statsMailer = config.SMTP_URL ? createStatsMailer(config.SMTP_URL) : null;
  const mailings = createMailingService({
    temporal: client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    limits: sendLimits(config),
    stopWaitMs: config.MAILING_STOP_WAIT_MS,
    logger,
  });

  const worker = await createMailingWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    provider,
    rateLimit: config.SEND_RATE_LIMIT,
    workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
    cachedWorkflows: config.WORKER_CACHED_WORKFLOWS,
    mailings,
    logger,
    dailyStats: statsMailer && { mailer: statsMailer, from: config.STATS_EMAIL_FROM },
    policy: {
      concurrency: config.SEND_CONCURRENCY,
      requestTimeoutMs: config.SEND_TIMEOUT_MS,
      retryInitialMs: config.SEND_RETRY_INITIAL_MS,
      retryMaxMs: config.SEND_RETRY_MAX_MS,
      outageThreshold: config.SEND_OUTAGE_THRESHOLD,
    },
  });
  await ensureReconcileSchedule(client, config.TEMPORAL_TASK_QUEUE);
  const dailyStats = await ensureDailyStatsSchedule(client, config.TEMPORAL_TASK_QUEUE, statsEmail, logger);
  logger.info({ schedule: dailyStats, at: config.STATS_EMAIL_AT, timeZone: config.STATS_EMAIL_TZ, recipients: statsEmail.recipients }, 'daily statistics e-mail');
  // The provider's origin and path only: a URL may carry credentials in its user part or its query.
  const { origin, pathname } = new URL(config.SEND_API_URL);
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, provider: `${origin}${pathname}` }, 'worker running');
  await worker.run();
  statsMailer?.close();
  await Promise.allSettled([metrics?.close(), provider.close(), db.destroy(), connection.close(), client.connection.close()]);
  logger.info('worker stopped');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
