import type { Knex } from 'knex';

/** A mailing's send window: `{"from": "HH:MM", "to": "HH:MM"}` in each client's local time; null for any time. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mailings', (t) => t.jsonb('send_window'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mailings', (t) => t.dropColumn('send_window'));
}
