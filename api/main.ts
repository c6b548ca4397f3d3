import { Client, Connection } from '@temporalio/client';
import { loadConfig, requireSetting, sendLimits } from '../config';
import { createLogger } from '../config/logger';
import { serveMetrics } from '../config/metrics-server';
import { temporalConnectionOptions } from '../config/temporal';
import { createMailingService } from '../domain/mailings';
import { connectDatabase, schemaIsCurrent } from '../storage/database';
import { countByStatus } from '../storage/mailing-lifecycle';
import { pendingTotal } from '../storage/mailing-counts';
import { createApp } from './app';
import { authOptions } from './auth/options';
import { requireWayIn } from './auth/way-in';
import { apiMetrics, collectApiMetrics } from './metrics';

/** The HTTP API process (`npm run api`): connects to PostgreSQL and Temporal, then serves. */
async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'api');
  const db = connectDatabase(requireSetting(config, 'DATABASE_URL'), config.DATABASE_POOL_MAX);
  const auth = authOptions(config);
  await requireWayIn(auth, logger);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });

  const app = await createApp({
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
    imports: { maxBytes: config.IMPORT_MAX_BYTES, atOnce: config.IMPORTS_AT_ONCE },
    auth,
    services: {
      readiness: {
        postgres: () => db.raw('select 1'),
        schema: () => schemaIsCurrent(db),
        temporal: () => connection.healthService.check({}),
      },
      mailings: createMailingService({
        temporal,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        limits: sendLimits(config),
        stopWaitMs: config.MAILING_STOP_WAIT_MS,
        logger,
      }),
    },
  });
  collectApiMetrics({ mailingsByStatus: countByStatus, pendingMessages: pendingTotal });
  const metrics = config.API_METRICS_PORT ? await serveMetrics(apiMetrics, config.API_METRICS_PORT, config.HOST, logger) : undefined;
  const server = app.listen(config.PORT, config.HOST, () => {
    logger.info({ url: `http://localhost:${config.PORT}/api/`, docs: `http://localhost:${config.PORT}/docs/` }, 'API listening');
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'API shutting down');
    server.close(async () => {
      await Promise.allSettled([metrics?.close(), db.destroy(), connection.close()]);
      process.exit(0);
    });
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
