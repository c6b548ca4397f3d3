import type { Knex } from 'knex';

/**
 * Messages per mailing and status, kept by statement-level triggers as messages are recorded and
 * change status, so statistics read a handful of rows instead of counting every message. Every writer
 * of messages keeps them right without knowing about them. A statement locks its message rows first
 * and its counter rows last, in (mailing_id, status) order, so counters add no deadlock.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE mailing_counts (
      mailing_id bigint NOT NULL REFERENCES mailings (id),
      status varchar(16) NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (mailing_id, status)
    )`);
  await knex.raw(`
    CREATE FUNCTION mailing_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
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
  await knex.raw(`CREATE TRIGGER messages_counted_on_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailing_counts_add()`);
  await knex.raw(`CREATE TRIGGER messages_counted_on_update AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailing_counts_add()`);
  await knex.raw(`CREATE TRIGGER messages_counted_on_delete AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mailing_counts_add()`);
  await knex.raw(`INSERT INTO mailing_counts (mailing_id, status, count) SELECT mailing_id, status, count(*) FROM messages GROUP BY mailing_id, status`);
  // Message pages of one mailing are read in id order.
  await knex.raw('CREATE INDEX messages_mailing_id_id ON messages (mailing_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX messages_mailing_id_id');
  await knex.raw('DROP TRIGGER messages_counted_on_insert ON messages');
  await knex.raw('DROP TRIGGER messages_counted_on_update ON messages');
  await knex.raw('DROP TRIGGER messages_counted_on_delete ON messages');
  await knex.raw('DROP FUNCTION mailing_counts_add()');
  await knex.raw('DROP TABLE mailing_counts');
}
