import type { Knex } from 'knex';

/**
 * The daily statistics e-mail. Messages record when they reached a final status (`settled_at`: sent,
 * failed, expired or cancelled), so a day's outcomes are read from one index range; `sent_at` alone
 * would miss failures and expiries. `stats_emails` records each report sent, so a retried send does
 * not send it again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => t.timestamp('settled_at', { useTz: true }));
  // Only sent messages have a known time; the others settled before this column existed stay out of daily reports.
  await knex.raw("UPDATE messages SET settled_at = sent_at WHERE status = 'sent'");
  // INCLUDE lets a past day's counts come from the index alone once its pages are all-visible.
  await knex.raw('CREATE INDEX messages_settled_at ON messages (settled_at) INCLUDE (mailing_id, status) WHERE settled_at IS NOT NULL');
  // Mailings whose window reaches into a day; old mailings are skipped by the index.
  await knex.raw('CREATE INDEX mailings_end_at ON mailings (end_at)');
  await knex.raw(`
    CREATE TABLE stats_emails (
      key text PRIMARY KEY,
      day date NOT NULL,
      message_id text NOT NULL,
      recipients text[] NOT NULL,
      sent_at timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE stats_emails');
  await knex.raw('DROP INDEX mailings_end_at');
  await knex.raw('DROP INDEX messages_settled_at');
  await knex.schema.alterTable('messages', (t) => t.dropColumn('settled_at'));
}
