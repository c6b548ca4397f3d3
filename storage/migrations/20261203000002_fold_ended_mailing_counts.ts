import type { Knex } from 'knex';

/**
 * The counters of mailings that ended before foldCounts (storage/mailing-counts.ts) existed, folded as
 * it folds them: one row per status instead of one per status and writing connection.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    WITH folded AS (
      DELETE FROM mailing_count_shards s USING mailings m
      WHERE m.id = s.mailing_id AND m.status IN ('finished', 'expired', 'cancelled')
      RETURNING s.mailing_id, s.status, s.count)
    INSERT INTO mailing_count_shards (mailing_id, status, shard, count)
    SELECT mailing_id, status, 0, sum(count) FROM folded GROUP BY mailing_id, status HAVING sum(count) <> 0 ORDER BY mailing_id, status`);
}

/** Folded counters are counters all the same: nothing to undo. */
export async function down(): Promise<void> {}
