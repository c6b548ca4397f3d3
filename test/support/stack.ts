import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../config';
import { createLogger, type Logger } from '../../config/logger';
import { startEmbeddedPostgres } from '../../stack/postgres/server';
import { temporalCliPath } from '../../stack/temporal/cli';
import { startTemporalDevServer } from '../../stack/temporal/dev-server';
import { migrateLatest } from '../../storage/migrate';
import { freePort } from '../../stack/process/ports';

export interface TestStack {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
}

let current: TestStack | undefined;
const cleanups: (() => Promise<void>)[] = [];

/** Where the test run's Postgres and Temporal are; set up once by the root hooks in ./hooks. */
export function testStack(): TestStack {
  if (!current) throw new Error('the test stack is not running: is test/support/hooks.ts in .mocharc.yml "require"?');
  return current;
}

/**
 * Starts what the environment does not already provide: a throwaway Postgres (fresh cluster in a
 * temp dir) and an in-memory, headless Temporal dev server, both on free ports, in parallel.
 * Migrates, and exports the addresses through process.env so `loadConfig()` in tests sees them.
 */
export async function startTestStack(): Promise<TestStack> {
  const config = loadConfig();
  // Quiet unless asked: the tests' output is the mocha report.
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'test-stack');
  // allSettled, not all: when one fails, the other must be up (and so stoppable) before cleaning up.
  const [postgres, temporal] = await Promise.allSettled([
    config.DATABASE_URL ?? startPostgres(logger),
    config.TEMPORAL_ADDRESS ?? startTemporal(config, logger),
  ]);
  if (postgres.status === 'rejected' || temporal.status === 'rejected') {
    await stopTestStack();
    throw postgres.status === 'rejected' ? postgres.reason : (temporal as PromiseRejectedResult).reason;
  }
  const [databaseUrl, temporalAddress] = [postgres.value, temporal.value];
  await migrateLatest(databaseUrl);
  process.env.DATABASE_URL = databaseUrl;
  process.env.TEMPORAL_ADDRESS = temporalAddress;
  process.env.TEMPORAL_NAMESPACE = config.TEMPORAL_NAMESPACE;
  current = { databaseUrl, temporalAddress, namespace: config.TEMPORAL_NAMESPACE };
  return current;
}

export async function stopTestStack(): Promise<void> {
  current = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

async function startPostgres(logger: Logger): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailings-test-pg-'));
  // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
  await chmod(dir, 0o755);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // A run that crashes before afterAll still must not leave a cluster behind in /tmp.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), port: await freePort(), logger });
  cleanups.push(postgres.stop);
  return postgres.url;
}

async function startTemporal(config: Config, logger: Logger): Promise<string> {
  const temporal = await startTemporalDevServer({
    cliPath: await temporalCliPath(config),
    port: await freePort(),
    namespace: config.TEMPORAL_NAMESPACE,
    logger,
  });
  cleanups.push(temporal.stop);
  return temporal.address;
}
