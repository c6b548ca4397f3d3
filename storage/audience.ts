import type { Knex } from 'knex';
import { isUniqueViolation, retryOnConflict } from './database';
import { MailingRow, type AudienceFilter, type SendWindow } from './mailings';
import { closePending, filterBindings, LEFT_OUT, MATCHES_FILTER } from './messages';

/** When the messages of clients in each of `zones` may first be sent, within the mailing's window. */
export type FirstSendAt = (window: SendWindow, zones: string[], startAt: Date, endAt: Date) => Date[];

// Above this many (by the planner's estimate) a count would take long: the estimate is given, marked as such.
const EXACT_COUNT_UP_TO = 200_000;

/**
 * How many clients a filter matches now: counted over the tag and operator code indexes, or, for
 * very large audiences, the planner's estimate from the table statistics (marked `estimated`).
 */
export async function countMatching(filter: AudienceFilter): Promise<{ clients: number; estimated: boolean }> {
  const knex = MailingRow.knex();
  const query = `SELECT 1 FROM clients c WHERE ${MATCHES_FILTER}`;
  const plan = (await knex.raw(`EXPLAIN (FORMAT JSON) ${query}`, filterBindings(filter))).rows[0]['QUERY PLAN'][0].Plan;
  if (plan['Plan Rows'] > EXACT_COUNT_UP_TO) return { clients: plan['Plan Rows'], estimated: true };
  const { rows } = await knex.raw(`SELECT count(*)::int AS clients FROM (${query}) matching`, filterBindings(filter));
  return { clients: rows[0].clients, estimated: false };
}

export interface AudienceChunk {
  /** Messages this chunk added. */
  recorded: number;
  /** Pending messages the last chunk cancelled: their clients no longer match the filter. */
  cancelled: number;
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
export async function recordAudienceChunk(mailingId: number, size: number, firstSendAt: FirstSendAt): Promise<AudienceChunk> {
  const chunk = await MailingRow.transaction(async (trx) => {
    const mailing = (
      await trx.raw(
        `SELECT filter, audience_cursor, send_window, start_at, end_at FROM mailings
         WHERE id = ? AND status = 'running' AND deleted_at IS NULL AND NOT audience_done FOR NO KEY UPDATE`,
        [mailingId],
      )
    ).rows[0];
    if (!mailing) return { recorded: 0, done: true };
    const chunkSql = `SELECT c.id, c.phone_number, c.timezone FROM clients c WHERE c.id > :after AND ${MATCHES_FILTER} ORDER BY c.id LIMIT :size`;
    const bindings = { mailingId, after: mailing.audience_cursor, size, ...filterBindings(mailing.filter) };
    // With a send window each message is due when its client's window first opens: one time per zone.
    let [zones, dues]: [string[], Date[]] = [[], []];
    if (mailing.send_window) {
      zones = (await trx.raw(`SELECT DISTINCT timezone FROM (${chunkSql}) chunk`, bindings)).rows.map((r: { timezone: string }) => r.timezone);
      dues = firstSendAt(mailing.send_window, zones, mailing.start_at, mailing.end_at);
    }
    const insertChunk = (db: Knex, onConflict: string) =>
      db.raw(
        `WITH chunk AS (${chunkSql}),
         added AS (
           INSERT INTO messages (mailing_id, client_id, phone, due_at)
           SELECT :mailingId, chunk.id, chunk.phone_number, coalesce(z.due_at, now())
           FROM chunk LEFT JOIN unnest(:zones::text[], :dues::timestamptz[]) AS z(zone, due_at) ON z.zone = chunk.timezone
           ORDER BY chunk.id
           ${onConflict} RETURNING 1)
         SELECT (SELECT max(id) FROM chunk) AS last_id, (SELECT count(*) FROM added)::int AS recorded`,
        { ...bindings, zones, dues },
      );
    // Most chunks add only new messages. A plain insert checks the unique indexes as it adds each entry;
    // ON CONFLICT first looks every row up in each of them as well (3.5 million buffers per 100,000
    // messages against 2.5, pg_stat_statements). A chunk with a client already recorded (a re-sync
    // after an edit, a phone imported again) rolls back to the savepoint and skips those.
    let result;
    try {
      result = await trx.transaction((savepoint) => insertChunk(savepoint, ''));
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      result = await insertChunk(trx, 'ON CONFLICT DO NOTHING');
    }
    const { last_id: lastId, recorded } = result.rows[0];
    if (lastId !== null) await trx.raw('UPDATE mailings SET audience_cursor = ? WHERE id = ?', [lastId, mailingId]);
    return { recorded, done: false, last: lastId === null ? (mailing.filter as AudienceFilter) : undefined };
  });
  if (!chunk.last) return { recorded: chunk.recorded, cancelled: 0, done: chunk.done };
  // Every matching client has a message. A client an earlier filter left out and this one takes back
  // gets its cancelled message back; those that no longer match (after an edit) lose their pending
  // one; then the audience is done, unless an edit changed the filter meanwhile.
  await reopenTakenBack(mailingId, chunk.last);
  const cancelled = await closePending(mailingId, 'cancelled', LEFT_OUT, {
    sql: `NOT EXISTS (SELECT 1 FROM clients c WHERE c.phone_number = m.phone AND ${MATCHES_FILTER})`,
    bindings: filterBindings(chunk.last),
  });
  const done = await MailingRow.knex().raw(
    `UPDATE mailings SET audience_done = true
     WHERE id = :mailingId AND status = 'running' AND deleted_at IS NULL AND filter = :filter::jsonb`,
    { mailingId, filter: JSON.stringify(chunk.last) },
  );
  return { recorded: chunk.recorded, cancelled, done: done.rowCount === 1 };
}

/**
 * Makes pending again the messages cancelled because an earlier filter left their clients out, where
 * `filter` matches those clients: due at once (a send window, if any, is applied when they are claimed).
 * Only a running mailing's: in id order, as every writer of many messages locks them.
 */
async function reopenTakenBack(mailingId: number, filter: AudienceFilter): Promise<void> {
  await retryOnConflict(() =>
    MailingRow.knex().raw(
      `WITH target AS (
         SELECT m.id FROM messages m
         WHERE m.mailing_id = :mailingId AND m.status = 'cancelled' AND m.last_error = :leftOut
           AND EXISTS (SELECT 1 FROM clients c WHERE c.phone_number = m.phone AND ${MATCHES_FILTER})
           AND EXISTS (SELECT 1 FROM mailings ml WHERE ml.id = :mailingId AND ml.status = 'running' AND ml.deleted_at IS NULL)
         ORDER BY m.id FOR UPDATE OF m)
       UPDATE messages m SET status = 'pending', last_error = NULL, settled_at = NULL, due_at = now()
       FROM target WHERE m.id = target.id`,
      { mailingId, leftOut: LEFT_OUT, ...filterBindings(filter) },
    ),
  );
}
