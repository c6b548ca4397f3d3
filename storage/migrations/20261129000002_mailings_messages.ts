import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mailings', (t) => {
    t.bigIncrements('id');
    t.timestamp('start_at', { useTz: true }).notNullable();
    t.timestamp('end_at', { useTz: true }).notNullable();
    t.text('text').notNullable();
    // Normalised to lists: {"mobile_operator_code": [...], "tag": [...]}; a missing key matches everyone.
    t.jsonb('filter').notNullable().defaultTo('{}');
    t.string('status', 16).notNullable().defaultTo('scheduled');
    // False until Temporal has accepted the mailing's workflow; the reconciler starts the ones left false.
    t.boolean('workflow_started').notNullable().defaultTo(false);
    // Deleted mailings are kept so that the messages already sent stay auditable.
    t.timestamp('deleted_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check('end_at > start_at', [], 'mailings_end_after_start');
  });
  await knex.raw('CREATE INDEX mailings_unstarted ON mailings (id) WHERE NOT workflow_started AND deleted_at IS NULL');

  await knex.schema.createTable('messages', (t) => {
    t.bigIncrements('id');
    t.bigInteger('mailing_id').notNullable().references('mailings.id');
    t.bigInteger('client_id').references('clients.id').onDelete('SET NULL');
    t.string('status', 16).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    // Earliest time the next attempt may start: the mailing start, a retry's backoff, a client's send window.
    t.timestamp('due_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Set while a send batch holds the message; an expired lease means that batch died and the message is free.
    t.timestamp('lease_until', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.unique(['mailing_id', 'client_id']);
    t.index(['mailing_id', 'status', 'id']);
    t.index(['client_id', 'id']);
    t.index(['status', 'id']);
    t.index(['mailing_id', 'sent_at']);
  });
  // Send batches claim the next pending messages of a mailing in id order; only pending rows are indexed.
  await knex.raw("CREATE INDEX messages_pending ON messages (mailing_id, id) WHERE status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('messages');
  await knex.schema.dropTable('mailings');
}
