import knex, { Knex } from 'knex';
import { Model, UniqueViolationError } from 'objection';
import path from 'node:path';

export type Database = Knex;

export function connectDatabase(url: string, poolMax = 10): Database {
  const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: poolMax } });
  Model.knex(db);
  return db;
}

const migrations = {
  directory: path.join(__dirname, 'migrations'),
  loadExtensions: ['.ts', '.js'],
};

export async function migrateLatest(db: Database): Promise<string[]> {
  const [, applied] = await db.migrate.latest(migrations);
  return applied;
}

/** True when a query failed on a unique constraint (objection wraps pg's SQLSTATE 23505). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  return error instanceof UniqueViolationError && (constraint === undefined || error.constraint === constraint);
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
