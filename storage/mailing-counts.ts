import { Model } from 'objection';
import type { MessageStatus } from './messages';

/**
 * The mailings' counters of messages by status (the table mailing_counts, kept by the triggers on
 * messages: no read counts message rows) and the send times read from the index of sent messages.
 */
export type StatusCounts = Record<MessageStatus, number>;

const knex = () => Model.knex();

const zeroCounts = (): StatusCounts => ({ pending: 0, sent: 0, failed: 0, expired: 0, cancelled: 0 });

/** Counts by status as a JSON object of the statuses a mailing has (see statusCountsJson), with the others at zero. */
export const toStatusCounts = (some: Partial<StatusCounts>): StatusCounts => ({ ...zeroCounts(), ...some });

/** The counters of the mailing whose id is in `mailingIdColumn`, as one JSON object by status: a column of a larger statement. */
export const statusCountsJson = (mailingIdColumn: string) =>
  knex().raw(`(SELECT coalesce(json_object_agg(k.status, k.count), '{}') FROM mailing_counts k WHERE k.mailing_id = ??)`, [mailingIdColumn]);

/** Counts per status of each given mailing, from the counters the triggers on messages keep. */
export async function countsByMailing(mailingIds: number[]): Promise<Map<number, StatusCounts>> {
  const result = await knex().raw(`SELECT mailing_id, status, count FROM mailing_counts WHERE mailing_id = ANY(:mailingIds::bigint[])`, { mailingIds });
  const counts = new Map(mailingIds.map((id) => [id, zeroCounts()]));
  for (const row of result.rows as { mailing_id: string; status: MessageStatus; count: string }[]) {
    counts.get(Number(row.mailing_id))![row.status] = Number(row.count);
  }
  return counts;
}

/**
 * Counts per status over every mailing that is not deleted, as one JSON object by status: a column of a
 * larger statement. Summed from the shards at once (not the view, which groups them per mailing first):
 * with the shards of ended mailings folded (foldCounts), 66 ms for 20,000 mailings instead of 560.
 */
export const totalCountsJson = () =>
  knex().raw(
    `(SELECT coalesce(json_object_agg(t.status, t.count), '{}') FROM (
       SELECT c.status, sum(c.count) AS count FROM mailing_count_shards c
       JOIN mailings ml ON ml.id = c.mailing_id AND ml.deleted_at IS NULL
       GROUP BY c.status) t)`,
  );

/**
 * An ended mailing's counters no longer change: its shards (one per writing connection, up to 16 per
 * status) become one row per status, so that totals over many mailings read a few rows of each.
 * Exact whenever it runs: a count written meanwhile lands in a row of its own.
 */
export async function foldCounts(mailingId: number): Promise<void> {
  await knex().raw(
    `WITH folded AS (DELETE FROM mailing_count_shards WHERE mailing_id = :mailingId RETURNING status, count)
     INSERT INTO mailing_count_shards (mailing_id, status, shard, count)
     SELECT :mailingId, status, 0, sum(count) FROM folded GROUP BY status HAVING sum(count) <> 0 ORDER BY status`,
    { mailingId },
  );
}

/**
 * Messages waiting to be sent, over every mailing, from the counters. Only an open mailing can have
 * pending messages (finishing, expiring and cancelling close them), so only the open ones' counters
 * are summed: their ids (the `mailings_open` index) go into the view's grouping key, so the shards
 * are read by primary key, not aggregated whole.
 */
export async function pendingTotal(): Promise<number> {
  const { rows } = await knex().raw(
    `SELECT coalesce(sum(count), 0)::bigint AS pending FROM mailing_counts
     WHERE status = 'pending' AND mailing_id = ANY(ARRAY(SELECT id FROM mailings WHERE status IN ('scheduled', 'running', 'paused')))`,
  );
  return Number(rows[0].pending);
}

// Send times are indexed for sent messages only (messages_sent): these statements say `status = 'sent'`.

export interface SendTimes {
  first_sent_at: string | null;
  last_sent_at: string | null;
  /** The most recent sends (within the window asked for, at most as many as asked for) and how long ago the oldest of them was. */
  recent: { sent: number; overSeconds: number };
}

/**
 * A mailing's first and last send, and its most recent sends within the last `seconds`, at most `most`
 * of them: a rate over a bounded number of index entries, however fast the mailing sends. One row with
 * `first`, `last`, `sent` and `over_seconds` (see toSendTimes), to be read as part of a larger statement.
 */
export function sendTimesQuery(mailingId: number, seconds: number, most: number) {
  return knex().raw(
    `SELECT
       (SELECT min(sent_at) FROM messages WHERE mailing_id = :mailingId AND status = 'sent') AS first,
       (SELECT max(sent_at) FROM messages WHERE mailing_id = :mailingId AND status = 'sent') AS last,
       count(*)::int AS sent, coalesce(extract(epoch FROM now() - min(recent.sent_at)), 0)::float8 AS over_seconds
     FROM (
       SELECT sent_at FROM messages WHERE mailing_id = :mailingId AND status = 'sent' AND sent_at > now() - make_interval(secs => :seconds)
       ORDER BY sent_at DESC LIMIT :most) recent`,
    { mailingId, seconds, most },
  );
}

export function toSendTimes(row: { first: Date | null; last: Date | null; sent: number; over_seconds: number }): SendTimes {
  return {
    first_sent_at: row.first ? row.first.toISOString() : null,
    last_sent_at: row.last ? row.last.toISOString() : null,
    recent: { sent: row.sent, overSeconds: row.over_seconds },
  };
}
