import type { Knex } from 'knex';

/**
 * Keys that machines sign in with. Only a SHA-256 of each key is kept: a key is 32 random bytes, so a
 * fast hash is enough (nothing to brute-force) and lets a request find its key by an index lookup.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_keys', (t) => {
    t.bigIncrements('id');
    t.text('name').notNullable();
    t.text('role').notNullable().checkIn(['viewer', 'operator'], 'api_keys_role');
    t.text('hash').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
    t.timestamp('last_used_at', { useTz: true });
  });
  // A name stands for one working key; a revoked key's name may be given to its replacement.
  await knex.raw('CREATE UNIQUE INDEX api_keys_name_active ON api_keys (name) WHERE revoked_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_keys');
}
