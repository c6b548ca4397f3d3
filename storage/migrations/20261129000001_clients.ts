import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('clients', (t) => {
    t.bigIncrements('id');
    t.string('phone_number', 11).notNullable().unique();
    t.string('mobile_operator_code', 3).notNullable();
    t.string('tag', 64);
    t.string('timezone', 64).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Listing pages by id within a filter: each index serves "WHERE x = ? AND id > ? ORDER BY id LIMIT n".
    t.index(['tag', 'id']);
    t.index(['mobile_operator_code', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('clients');
}
