import { MailingRow, type AudienceFilter } from './mailings';
import { closePending, filterBindings, MATCHES_FILTER } from './messages';

export interface AudienceChunk {
  /** Messages this chunk added. */
  recorded: number;
  /** Every matching client has a message now (or the mailing is no longer running: nothing to record). */
  done: boolean;
}

/**
 * Records the messages of the next `size` matching clients, in client id order after the mailing's
 * cursor, in one transaction that holds the mailing's row: a delete or edit waits for the chunk, and a
 * chunk after a delete records nothing. The last (empty) chunk closes the audience outside that
 * transaction, since cancelling messages takes the message counters the chunk's insert holds. Idempotent, so a retried chunk is harmless; one message per
 * client and per phone (a client deleted and imported again is the same person).
 */
export async function recordAudienceChunk(mailingId: number, size: number): Promise<AudienceChunk> {
  const chunk = await MailingRow.transaction(async (trx) => {
    const mailing = (
      await trx.raw(
        `SELECT filter, audience_cursor FROM mailings
         WHERE id = ? AND status = 'running' AND deleted_at IS NULL AND NOT audience_done FOR NO KEY UPDATE`,
        [mailingId],
      )
    ).rows[0];
    if (!mailing) return { recorded: 0, done: true };
    const result = await trx.raw(
      `WITH chunk AS (
         SELECT c.id, c.phone_number FROM clients c WHERE c.id > :after AND ${MATCHES_FILTER} ORDER BY c.id LIMIT :size),
       added AS (
         INSERT INTO messages (mailing_id, client_id, phone, due_at)
         SELECT :mailingId, id, phone_number, now() FROM chunk ORDER BY id
         ON CONFLICT DO NOTHING RETURNING 1)
       SELECT (SELECT max(id) FROM chunk) AS last_id, (SELECT count(*) FROM added)::int AS recorded`,
      { mailingId, after: mailing.audience_cursor, size, ...filterBindings(mailing.filter) },
    );
    const { last_id: lastId, recorded } = result.rows[0];
    if (lastId !== null) await trx.raw('UPDATE mailings SET audience_cursor = ? WHERE id = ?', [lastId, mailingId]);
    return { recorded, done: false, last: lastId === null ? (mailing.filter as AudienceFilter) : undefined };
  });
  if (!chunk.last) return { recorded: chunk.recorded, done: chunk.done };
  // Every matching client has a message. Those that no longer match the filter (after an edit) lose
  // their pending one; then the audience is done, unless an edit changed the filter meanwhile.
  await closePending(mailingId, 'cancelled', 'client no longer matches the mailing filter', {
    sql: `NOT EXISTS (SELECT 1 FROM clients c WHERE c.phone_number = m.phone AND ${MATCHES_FILTER})`,
    bindings: filterBindings(chunk.last),
  });
  const done = await MailingRow.knex().raw(
    `UPDATE mailings SET audience_done = true
     WHERE id = :mailingId AND status = 'running' AND deleted_at IS NULL AND filter = :filter::jsonb`,
    { mailingId, filter: JSON.stringify(chunk.last) },
  );
  return { recorded: chunk.recorded, done: done.rowCount === 1 };
}
