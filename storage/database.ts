import knex, { Knex } from 'knex';
import { Model, UniqueViolationError } from 'objection';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type Database = Knex;

export function connectDatabase(url: string, poolMax = 10): Database {
  const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: poolMax } });
  Model.knex(db);
  return db;
}

const directory = path.join(__dirname, 'migrations');
/** knex records a migration by file name: compiled (`dist/`, `.js`) it keeps its `.ts` name, so both share one history. */
export const migrations: Knex.MigratorConfig = {
  migrationSource: {
    getMigrations: async () => (await readdir(directory)).filter((file) => /^\d+_\w+\.[jt]s$/.test(file)).sort(),
    getMigrationName: (file: string) => file.replace(/\.js$/, '.ts'),
    // require, not import(): under tsx's CommonJS hook (mocha) import() of a .ts file is refused.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    getMigration: async (file: string) => require(path.join(directory, file)),
  },
};

/**
 * A timestamp column as the API writes it (as Date.toISOString would, to the millisecond), formatted by
 * PostgreSQL: a page of rows has several per row, and parsing each into a Date only to print it again
 * cost more than the rest of the row.
 */
export const isoTime = (column: string) => Model.knex().raw(`to_char(?? AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ??`, [column, column]);

export async function migrateLatest(db: Database): Promise<string[]> {
  const [, applied] = await db.migrate.latest(migrations);
  return applied;
}

/**
 * Resolves when every migration this code knows has been applied; rejects naming those that have not.
 * A process of a new version is not ready while the migration Job of its release is still running.
 */
export async function schemaIsCurrent(db: Database): Promise<void> {
  const [, pending] = (await db.migrate.list(migrations)) as [unknown[], string[]];
  if (pending.length > 0) throw new Error(`migrations not applied yet: ${pending.map((file) => migrations.migrationSource!.getMigrationName(file)).join(', ')}`);
}

/** True when a query failed on a unique constraint: SQLSTATE 23505, wrapped by objection or, from a raw query, as pg reports it. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const violation = error as { code?: string; constraint?: string } | null;
  if (!(error instanceof UniqueViolationError) && violation?.code !== '23505') return false;
  return constraint === undefined || violation?.constraint === constraint;
}

/** True when PostgreSQL could not be reached at all, as opposed to refusing a query. */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string; name?: string };
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03'].includes(e?.code ?? '') ||
    e?.name === 'KnexTimeoutError' ||
    /Unable to acquire a connection|Connection terminated/.test(e?.message ?? '')
  );
}

/** SQLSTATEs of a transaction PostgreSQL aborted to break a deadlock or a serialization conflict. */
const TRANSIENT_CONFLICTS = new Set(['40P01', '40001']);

/** True when the database aborted the statement over a conflict with another transaction; repeating it may succeed. */
export function isTransientConflict(error: unknown): boolean {
  const e = error as { code?: string; nativeError?: { code?: string } };
  return TRANSIENT_CONFLICTS.has(e?.code ?? e?.nativeError?.code ?? '');
}

const CONFLICT_ATTEMPTS = 4;

/**
 * Runs a statement (or transaction) that is safe to repeat, repeating it a few times with jitter when
 * the database aborted it over a deadlock or serialization conflict; the last conflict is thrown.
 */
export async function retryOnConflict<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= CONFLICT_ATTEMPTS || !isTransientConflict(error)) throw error;
      await sleep(Math.random() * 50 * attempt);
    }
  }
}
