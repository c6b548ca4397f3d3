import path from 'node:path';
import type { Config } from '../config';
import type { Logger } from '../config/logger';
import { API_NODE_FLAGS } from '../api/node-flags';
import { WORKER_NODE_FLAGS } from '../worker/node-flags';
import { migrateLatest } from '../storage/migrate';
import { ensureAdminBuilt } from './admin-build';
import { startFakeProvider } from './fake-provider';
import { startMailSink } from './mail-sink';
import { waitUntilReady } from './process/managed-process';
import { startNodePart, type Parts } from './process/parts';
import { assertPortFree, tcpProbe } from './process/ports';
import type { StopSignals } from './process/script';
import { DATABASE_NAME, startEmbeddedPostgres } from './postgres/server';
import { repoRoot } from './repo-root';
import { startDevSignIn } from './sign-in/dev-sign-in';
import { startTemporalDevServer } from './temporal/dev-server';
import { temporalCliPath } from './temporal/cli';

const FAKE_PROVIDER_TOKEN = 'fake-token';
/** Who gets the daily statistics e-mail under `npm start` when STATS_EMAIL_TO is unset: it lands in the sink anyway. */
const LOCAL_STATS_RECIPIENT = 'operator@localhost';
const API_STARTUP_TIMEOUT_MS = 60_000;

/** The service's processes, with how long each may take to drain when stopped. */
const SERVICES = [
  { name: 'worker', entry: 'worker/main.ts', flags: WORKER_NODE_FLAGS, stopTimeoutMs: 30_000 },
  { name: 'api', entry: 'api/main.ts', flags: API_NODE_FLAGS, stopTimeoutMs: 10_000 },
];

/**
 * Starts, in dependency order, whatever is not configured: embedded Postgres without DATABASE_URL,
 * the Temporal dev server without TEMPORAL_ADDRESS, the fake SMS provider without SEND_API_TOKEN, an
 * SMTP sink for the daily statistics e-mail without SMTP_URL, the development identity provider
 * without OIDC_ISSUER; migrates; makes an operator API key; then runs the worker and the API as children, pointed at all of it through their env.
 * Each started part goes into `parts` at once, so a failure or Ctrl-C mid-way stops what is up.
 */
export async function startAll(config: Config, logger: Logger, parts: Parts, signals: StopSignals): Promise<void> {
  const dataDir = path.resolve(repoRoot, config.DATA_DIR);
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE };
  const summary: string[] = [];
  await ensureAdminBuilt((message) => logger.info(message));

  if (config.DATABASE_URL) {
    summary.push('Postgres       from DATABASE_URL');
  } else {
    const pgDir = path.join(dataDir, 'postgres');
    const postgres = await startEmbeddedPostgres({ dataDir: pgDir, port: config.EMBEDDED_POSTGRES_PORT, logger });
    parts.add({ name: 'postgres', ...postgres });
    env.DATABASE_URL = postgres.url;
    summary.push(`Postgres       127.0.0.1:${config.EMBEDDED_POSTGRES_PORT}/${DATABASE_NAME} (embedded, data in ${pgDir})`);
  }
  signals.throwIfRequested();

  if (config.TEMPORAL_ADDRESS) {
    summary.push(`Temporal gRPC  ${config.TEMPORAL_ADDRESS} (from TEMPORAL_ADDRESS)`);
  } else {
    const temporal = await startTemporalDevServer({
      cliPath: await temporalCliPath(config),
      dbFile: path.join(dataDir, 'temporal.db'),
      port: config.TEMPORAL_DEV_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      namespace: config.TEMPORAL_NAMESPACE,
      logger,
    });
    parts.add({ name: 'temporal', ...temporal });
    env.TEMPORAL_ADDRESS = temporal.address;
    summary.push(`Temporal gRPC  ${temporal.address} (dev server, namespace ${config.TEMPORAL_NAMESPACE})`);
    summary.push(`Temporal UI    http://localhost:${config.TEMPORAL_UI_PORT}`);
  }
  signals.throwIfRequested();

  if (!config.SEND_API_TOKEN) {
    const fake = await startFakeProvider({
      port: config.FAKE_PROVIDER_PORT,
      token: FAKE_PROVIDER_TOKEN,
      logger: logger.child({ component: 'fake-provider' }),
    });
    parts.add({ name: 'fake provider', stop: () => fake.stop() });
    env.SEND_API_URL = fake.url;
    env.SEND_API_TOKEN = FAKE_PROVIDER_TOKEN;
    summary.push(`SMS provider   FAKE at ${fake.url}: nothing is delivered`);
    logger.warn(`!!! SEND_API_TOKEN is not set: messages go to the FAKE provider at ${fake.url} and reach nobody !!!`);
  }

  if (!config.SMTP_URL) {
    const mailDir = path.join(dataDir, 'mail');
    const sink = await startMailSink({ dir: mailDir, logger: logger.child({ component: 'mail-sink' }) });
    parts.add({ name: 'mail sink', stop: () => sink.stop() });
    env.SMTP_URL = sink.url;
    env.STATS_EMAIL_TO = config.STATS_EMAIL_TO ?? LOCAL_STATS_RECIPIENT;
    summary.push(`E-mail         sink at ${sink.url}: daily statistics (${config.STATS_EMAIL_AT} ${config.STATS_EMAIL_TZ}) land in ${mailDir}`);
  }

  const applied = await migrateLatest(env.DATABASE_URL!);
  logger.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date');
  signals.throwIfRequested();

  const signIn = await startDevSignIn(config, dataDir, env.DATABASE_URL!, parts);
  Object.assign(env, signIn.env);
  summary.push(...signIn.summary);
  signals.throwIfRequested();

  const apiHost = ['0.0.0.0', '::'].includes(config.HOST) ? '127.0.0.1' : config.HOST;
  for (const { name, entry, flags, stopTimeoutMs } of SERVICES) {
    if (name === 'api') await assertPortFree('the API', apiHost, config.PORT);
    const child = await startNodePart(parts, { name, entry, flags, env, logger, stopTimeoutMs });
    if (name === 'api') await waitUntilReady(child, () => tcpProbe(apiHost, config.PORT), API_STARTUP_TIMEOUT_MS);
  }
  summary.unshift(
    `API            http://localhost:${config.PORT}/api/`,
    `Admin console  http://localhost:${config.PORT}/admin/`,
    `Swagger UI     http://localhost:${config.PORT}/docs/`,
  );
  for (const [what, port] of [
    ['API metrics', config.API_METRICS_PORT],
    ['worker metrics', config.METRICS_PORT],
    ['SDK metrics', config.SDK_METRICS_PORT],
  ] as const) {
    if (port) summary.push(`${what.padEnd(15)}http://localhost:${port}/metrics`);
  }
  for (const line of summary) logger.info(line);
}
