import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import knex, { type Knex } from 'knex';
import { migrations } from '../../storage/database';
import { testStack } from '../support/stack';

/** The schema as PostgreSQL describes it: columns, constraints, indexes, views, triggers and functions. */
async function schemaOf(db: Knex): Promise<string[]> {
  const queries = [
    `SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type || coalesce('(' || character_maximum_length || ')', ''), is_nullable, column_default)
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'knex%'`,
    `SELECT format('constraint %s on %s: %s', conname, conrelid::regclass, pg_get_constraintdef(oid)) FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'knex%'`,
    `SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'knex%'`,
    `SELECT format('view %s: %s', viewname, definition) FROM pg_views WHERE schemaname = 'public'`,
    `SELECT format('trigger %s', pg_get_triggerdef(oid)) FROM pg_trigger WHERE NOT tgisinternal`,
    `SELECT format('function %s: %s', proname, prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace`,
    `SELECT format('options %s: %s', relname, reloptions) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL`,
  ];
  const lines = await Promise.all(queries.map(async (sql) => (await db.raw(sql)).rows.map((row: { format: string }) => row.format)));
  return lines.flat().sort();
}

describe('the migrations', function () {
  this.timeout(300_000);
  const name = `migrations_${randomUUID().replaceAll('-', '')}`;
  let server: Knex;
  let db: Knex;
  before(async () => {
    server = knex({ client: 'pg', connection: testStack().databaseUrl, pool: { min: 0, max: 1 } });
    await server.raw(`CREATE DATABASE ${name}`);
    const url = new URL(testStack().databaseUrl);
    url.pathname = `/${name}`;
    db = knex({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
  });
  after(async () => {
    await db?.destroy();
    await server?.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await server?.destroy();
  });

  it('each undo (down) the schema change of its up, from the last to the first', async () => {
    const before: string[][] = [];
    for (;;) {
      const schema = await schemaOf(db);
      const [, applied] = await db.migrate.up(migrations);
      if (applied.length === 0) break;
      before.push(schema);
    }
    const files = (await db('knex_migrations').orderBy('id').select('name')).map((row) => row.name);
    for (let index = before.length - 1; index >= 0; index--) {
      await db.migrate.down(migrations);
      assert.deepEqual(await schemaOf(db), before[index], `down of ${files[index]}`);
    }
  });
});
