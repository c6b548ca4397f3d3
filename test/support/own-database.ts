import { randomUUID } from 'node:crypto';
import knex from 'knex';
import { migrateLatest } from '../../storage/migrate';
import { testStack } from './stack';

export interface OwnDatabase {
  url: string;
  /** Drops it, closing whatever connections are still open to it. */
  drop(): Promise<void>;
}

/** A migrated database of its own on the test run's PostgreSQL, for a test that must not see other tests' rows (or show them its own). */
export async function createOwnDatabase(prefix: string): Promise<OwnDatabase> {
  const name = `${prefix}_${randomUUID().replaceAll('-', '')}`;
  const onServer = async (sql: string) => {
    const server = knex({ client: 'pg', connection: testStack().databaseUrl, pool: { min: 0, max: 1 } });
    try {
      await server.raw(sql);
    } finally {
      await server.destroy();
    }
  };
  await onServer(`CREATE DATABASE ${name}`);
  const url = new URL(testStack().databaseUrl);
  url.pathname = `/${name}`;
  await migrateLatest(url.toString());
  return { url: url.toString(), drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
