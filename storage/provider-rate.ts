import { Model } from 'objection';

/**
 * Takes up to `want` tokens from the shared bucket, refilled at `rate` per second up to `burst`.
 * The row lock serialises workers; each call takes a chunk, so the lock is held rarely.
 */
export async function takeProviderTokens(want: number, rate: number, burst: number): Promise<number> {
  const result = await Model.knex().raw(
    `WITH bucket AS (
       SELECT LEAST(:burst::float8, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at) * :rate::float8) AS available
       FROM provider_rate WHERE id = 1 FOR UPDATE)
     UPDATE provider_rate SET tokens = bucket.available - LEAST(floor(bucket.available), :want), refilled_at = clock_timestamp()
     FROM bucket WHERE id = 1
     RETURNING LEAST(floor(bucket.available), :want)::int AS granted`,
    { want, rate, burst },
  );
  return result.rows[0]?.granted ?? 0;
}
