import type { Knex } from 'knex';

/**
 * Messages are keyed by phone within a mailing (one person, one message, even when their client row is
 * deleted and created again) and carry the claim that holds them; mailings record how far their
 * audience is recorded, so recording resumes in chunks and a filter edit re-syncs it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    // Where the message goes, fixed when the audience is recorded: the exact record of who was messaged.
    t.string('phone', 11);
    // The claim holding the message; an outcome is written only by the claim it belongs to.
    t.uuid('lease_token');
  });
  await knex.raw('UPDATE messages m SET phone = c.phone_number FROM clients c WHERE c.id = m.client_id');
  await knex.raw('ALTER TABLE messages ADD CONSTRAINT messages_mailing_id_phone_unique UNIQUE (mailing_id, phone)');

  await knex.schema.alterTable('mailings', (t) => {
    // The last client id whose message is recorded; recording resumes after it.
    t.bigInteger('audience_cursor').notNullable().defaultTo(0);
    // True once every matching client has a message; a filter edit while running sets it back to false.
    t.boolean('audience_done').notNullable().defaultTo(false);
  });
  await knex.raw("UPDATE mailings SET audience_done = true WHERE status <> 'scheduled'");
  // The reconciler looks at every mailing that is not final yet, started or not.
  await knex.raw("CREATE INDEX mailings_open ON mailings (id) WHERE status IN ('scheduled', 'running')");
  await knex.raw('DROP INDEX mailings_unstarted');
  await knex.schema.alterTable('mailings', (t) => t.dropColumn('workflow_started'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX mailings_open');
  // The mailings of the newer code count as started (its workflows run them); later ones do not.
  await knex.schema.alterTable('mailings', (t) => t.boolean('workflow_started').notNullable().defaultTo(true));
  await knex.raw('ALTER TABLE mailings ALTER COLUMN workflow_started SET DEFAULT false');
  await knex.raw('CREATE INDEX mailings_unstarted ON mailings (id) WHERE NOT workflow_started AND deleted_at IS NULL');
  await knex.schema.alterTable('mailings', (t) => {
    t.dropColumn('audience_cursor');
    t.dropColumn('audience_done');
  });
  await knex.schema.alterTable('messages', (t) => {
    t.dropUnique([], 'messages_mailing_id_phone_unique');
    t.dropColumn('phone');
    t.dropColumn('lease_token');
  });
}
