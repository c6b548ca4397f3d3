import type { Knex } from 'knex';

/** One token bucket shared by every worker, so SEND_RATE_LIMIT holds across the whole deployment. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('provider_rate', (t) => {
    t.integer('id').primary();
    t.double('tokens').notNullable();
    t.timestamp('refilled_at', { useTz: true }).notNullable();
  });
  await knex('provider_rate').insert({ id: 1, tokens: 0, refilled_at: knex.fn.now() });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('provider_rate');
}
