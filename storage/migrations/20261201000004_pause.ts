import type { Knex } from 'knex';

/** Mailings remember when they started, so a paused one resumes as scheduled or as running; paused ones are open. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('mailings', (t) => t.timestamp('started_at', { useTz: true }));
  await knex.raw("UPDATE mailings SET started_at = updated_at WHERE status <> 'scheduled'");
  await knex.raw('DROP INDEX mailings_open');
  await knex.raw("CREATE INDEX mailings_open ON mailings (id) WHERE status IN ('scheduled', 'running', 'paused')");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX mailings_open');
  await knex.raw("CREATE INDEX mailings_open ON mailings (id) WHERE status IN ('scheduled', 'running')");
  await knex.schema.alterTable('mailings', (t) => t.dropColumn('started_at'));
}
