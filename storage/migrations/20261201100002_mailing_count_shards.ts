import type { Knex } from 'knex';

const SHARDS = 16;

/**
 * Every write of outcomes changes its mailing's counters, and a counter row stays locked until its
 * transaction commits (an fsync later): with one row per (mailing, status), the writes of a mailing's
 * parallel send batches waited for each other in single file. Each connection now adds to its own
 * shard of the counters (by backend pid), so concurrent writers no longer share a row; the view
 * `mailing_counts` sums the shards, and readers see the counts as before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE mailing_counts RENAME TO mailing_count_shards');
  await knex.raw('ALTER TABLE mailing_count_shards ADD COLUMN shard smallint NOT NULL DEFAULT 0');
  await knex.raw('ALTER TABLE mailing_count_shards DROP CONSTRAINT mailing_counts_pkey');
  await knex.raw('ALTER TABLE mailing_count_shards ADD PRIMARY KEY (mailing_id, status, shard)');
  await knex.raw(`
    CREATE VIEW mailing_counts AS
    SELECT mailing_id, status, sum(count)::bigint AS count FROM mailing_count_shards GROUP BY mailing_id, status`);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION mailing_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      my_shard smallint := pg_backend_pid() % ${SHARDS};
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO mailing_count_shards (mailing_id, status, shard, count)
        SELECT mailing_id, status, my_shard, count(*) FROM new_rows GROUP BY mailing_id, status ORDER BY mailing_id, status
        ON CONFLICT (mailing_id, status, shard) DO UPDATE SET count = mailing_count_shards.count + EXCLUDED.count;
      ELSIF TG_OP = 'UPDATE' THEN
        -- Most updates (claims, retries) keep the status: their delta is zero and nothing is written.
        INSERT INTO mailing_count_shards (mailing_id, status, shard, count)
        SELECT mailing_id, status, my_shard, sum(delta) FROM (
          SELECT mailing_id, status, 1 AS delta FROM new_rows
          UNION ALL SELECT mailing_id, status, -1 FROM old_rows) changes
        GROUP BY mailing_id, status HAVING sum(delta) <> 0 ORDER BY mailing_id, status
        ON CONFLICT (mailing_id, status, shard) DO UPDATE SET count = mailing_count_shards.count + EXCLUDED.count;
      ELSE
        INSERT INTO mailing_count_shards (mailing_id, status, shard, count)
        SELECT mailing_id, status, my_shard, -count(*) FROM old_rows GROUP BY mailing_id, status ORDER BY mailing_id, status
        ON CONFLICT (mailing_id, status, shard) DO UPDATE SET count = mailing_count_shards.count + EXCLUDED.count;
      END IF;
      RETURN NULL;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW mailing_counts');
  // The counts summed aside first: the shards' table still holds the names the counters' table had.
  await knex.raw(`CREATE TEMPORARY TABLE summed AS SELECT mailing_id, status, sum(count)::bigint AS count FROM mailing_count_shards GROUP BY mailing_id, status`);
  await knex.raw('DROP TABLE mailing_count_shards');
  await knex.raw(`
    CREATE TABLE mailing_counts (
      mailing_id bigint NOT NULL REFERENCES mailings (id),
      status varchar(16) NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (mailing_id, status)
    )`);
  await knex.raw('INSERT INTO mailing_counts (mailing_id, status, count) SELECT mailing_id, status, count FROM summed');
  await knex.raw('DROP TABLE summed');
  await knex.raw(`
    CREATE OR REPLACE FUNCTION mailing_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO mailing_counts (mailing_id, status, count)
        SELECT mailing_id, status, count(*) FROM new_rows GROUP BY mailing_id, status ORDER BY mailing_id, status
        ON CONFLICT (mailing_id, status) DO UPDATE SET count = mailing_counts.count + EXCLUDED.count;
      ELSIF TG_OP = 'UPDATE' THEN
        -- Most updates (claims, retries) keep the status: their delta is zero and nothing is written.
        INSERT INTO mailing_counts (mailing_id, status, count)
        SELECT mailing_id, status, sum(delta) FROM (
          SELECT mailing_id, status, 1 AS delta FROM new_rows
          UNION ALL SELECT mailing_id, status, -1 FROM old_rows) changes
        GROUP BY mailing_id, status HAVING sum(delta) <> 0 ORDER BY mailing_id, status
        ON CONFLICT (mailing_id, status) DO UPDATE SET count = mailing_counts.count + EXCLUDED.count;
      ELSE
        INSERT INTO mailing_counts (mailing_id, status, count)
        SELECT mailing_id, status, -count(*) FROM old_rows GROUP BY mailing_id, status ORDER BY mailing_id, status
        ON CONFLICT (mailing_id, status) DO UPDATE SET count = mailing_counts.count + EXCLUDED.count;
      END IF;
      RETURN NULL;
    END $$`);
}
