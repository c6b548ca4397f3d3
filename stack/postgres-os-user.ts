import { execFileSync } from 'node:child_process';

export interface OsUser {
  uid: number;
  gid: number;
}

const NAME = 'postgres';

/**
 * Postgres refuses to run as root, and sessions and CI run as root: there the cluster is owned and
 * run by the `postgres` OS user, created if missing. Not root: undefined, run as ourselves.
 */
export function postgresOsUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (!userExists()) execFileSync('useradd', ['--system', '--user-group', '--no-create-home', NAME], { stdio: 'pipe' });
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
    throw new Error(`the ${NAME} OS user cannot reach ${file}: ${remedy}`);
  }
}

function userExists(): boolean {
  try {
    execFileSync('id', ['-u', NAME], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function idOf(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, NAME], { encoding: 'utf8' }).trim());
}
