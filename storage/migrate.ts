import { loadConfig, requireSetting } from '../config';
import { createLogger } from '../config/logger';
import { connectDatabase, migrateLatest as applyMigrations } from './database';

export async function migrateLatest(databaseUrl: string): Promise<string[]> {
  const db = connectDatabase(databaseUrl, 1);
  try {
    return await applyMigrations(db);
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'migrate');
  migrateLatest(requireSetting(config, 'DATABASE_URL')).then(
    (applied) => logger.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date'),
    (error) => {
      logger.fatal({ err: error }, 'migration failed');
      process.exitCode = 1;
    },
  );
}
