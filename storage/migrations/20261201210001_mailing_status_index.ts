import type { Knex } from 'knex';

/** Lists of mailings in one status (the admin console's filter and dashboard) page by id within it. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX mailings_status_id ON mailings (status, id) WHERE deleted_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX mailings_status_id');
}
