import { Model } from 'objection';

export interface StatsEmail {
  /** Names one report of one run: the workflow id and the day. */
  key: string;
  day: string;
  messageId: string;
  recipients: string[];
}

const knex = () => Model.knex();

/**
 * Sends a report at most once per key: under a transaction-scoped advisory lock on the key (so a
 * retried attempt that overlaps a slow one waits for it), `send` runs only when no report with the key
 * is recorded, and its record is written once it has succeeded. Answers whether this call sent it.
 * Only a crash between the SMTP server's acceptance and the commit can send twice; the repeat then
 * carries the same Message-ID, by which mail systems recognise it.
 */
export async function sendStatsEmailOnce(email: StatsEmail, send: () => Promise<void>): Promise<boolean> {
  return knex().transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))', { key: email.key });
    const sent = await trx('stats_emails').where({ key: email.key }).first();
    if (sent) return false;
    await send();
    await trx('stats_emails').insert({ key: email.key, day: email.day, message_id: email.messageId, recipients: email.recipients });
    return true;
  });
}
