import assert from 'node:assert/strict';
import { Model } from 'objection';
import { createRateLimiter, type RateLimiter } from '../../activities/rate-limit';
import { connectDatabase, type Database } from '../../storage/database';
import { takeProviderTokens } from '../../storage/provider-rate';

const SECOND = 1000;

describe('provider rate limiter', () => {
  let db: Database;

  before(() => {
    db = connectDatabase(process.env.DATABASE_URL!);
  });
  beforeEach(() => Model.knex(db));
  after(() => db?.destroy());

  /** An empty shared bucket, as after a burst of requests. */
  const emptyBucket = () => db('provider_rate').where({ id: 1 }).update({ tokens: 0, refilled_at: db.fn.now() });

  describe('two limiters sharing the PostgreSQL bucket, 50 requests/s, 100 requests between them', () => {
    const RATE = 50;
    const REQUESTS = 100;
    // Tokens come in chunks of ~50 ms worth; the bucket holds at most one chunk.
    const CHUNK = Math.ceil(RATE / 20);
    let grantedAt: number[];
    let elapsed: number;

    before(async () => {
      Model.knex(db);
      await emptyBucket();
      const limiters = [createRateLimiter(RATE, takeProviderTokens), createRateLimiter(RATE, takeProviderTokens)];
      grantedAt = [];
      const started = Date.now();
      const use = async (limiter: RateLimiter, requests: number) => {
        for (let i = 0; i < requests; i++) {
          await limiter.acquire();
          grantedAt.push(Date.now());
        }
      };
      await Promise.all(limiters.map((limiter) => use(limiter, REQUESTS / limiters.length)));
      elapsed = Date.now() - started;
    });

    it('together take as long as the rate demands', () => {
      // From an empty bucket, 100 tokens take (100 - one chunk) / 50 per second = 1.94 s.
      const least = ((REQUESTS - CHUNK) / RATE) * SECOND;
      assert.ok(elapsed >= least * 0.95, `${REQUESTS} requests in ${elapsed} ms`);
    });

    it('together never let more than the rate (plus what the bucket and each limiter can hold) through in any second', () => {
      const ceiling = RATE + CHUNK + 2 * CHUNK + 1;
      const sorted = [...grantedAt].sort((a, b) => a - b);
      let busiest = 0;
      for (let i = 0, j = 0; i < sorted.length; i++) {
        while (sorted[i] - sorted[j] >= SECOND) j++;
        busiest = Math.max(busiest, i - j + 1);
      }
      assert.ok(busiest <= ceiling, `${busiest} requests within one second`);
    });

    it('together still use the whole rate rather than a share of it each', () => {
      assert.ok(elapsed < 1.5 * (REQUESTS / RATE) * SECOND, `${REQUESTS} requests in ${elapsed} ms`);
    });
  });

  it('asks the bucket for about 50 ms worth of tokens at a time, not for each request', async () => {
    const asks: number[] = [];
    const limiter = createRateLimiter(200, async (want) => (asks.push(want), want));
    for (let i = 0; i < 100; i++) await limiter.acquire();
    assert.deepEqual(asks, Array(10).fill(10));
  });

  it('at rate 0 lets every request through without waiting or asking the bucket', async function () {
    this.timeout(2 * SECOND);
    let asked = 0;
    // An empty bucket: a limiter that asked it would wait forever.
    const limiter = createRateLimiter(0, async () => (asked++, 0));
    const started = Date.now();
    for (let i = 0; i < 1000; i++) await limiter.acquire();
    assert.equal(asked, 0);
    assert.ok(Date.now() - started < 100);
  });
});
