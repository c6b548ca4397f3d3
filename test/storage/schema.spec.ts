import assert from 'node:assert/strict';
import knex from 'knex';
import { schemaIsCurrent } from '../../storage/database';
import { createOwnDatabase, type OwnDatabase } from '../support/own-database';

describe('the schema check (readiness)', () => {
  let own: OwnDatabase;
  let db: ReturnType<typeof knex>;
  before(async () => {
    own = await createOwnDatabase('schema_check');
    db = knex({ client: 'pg', connection: own.url, pool: { min: 0, max: 1 } });
  });
  after(async () => {
    await db?.destroy();
    await own?.drop();
  });

  it('passes once every migration of this code is applied', async () => {
    await schemaIsCurrent(db);
  });

  it('fails, naming it, while a migration of this code is not applied yet', async () => {
    const [latest] = await db('knex_migrations').orderBy('id', 'desc').limit(1).select('id', 'name');
    await db('knex_migrations').where({ id: latest.id }).del();
    await assert.rejects(schemaIsCurrent(db), (error: Error) => error.message.includes(latest.name));
  });
});
