import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp } from '../../api/app';
import { createLogger } from '../../config/logger';
import type { MailingService } from '../../domain/mailings';
import { retryOnConflict } from '../../storage/database';

/** What pg throws when PostgreSQL broke a deadlock by aborting this transaction. */
const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });
const serializationFailure = () => Object.assign(new Error('could not serialize access'), { code: '40001' });

describe('a deadlock or serialization failure in the database', () => {
  describe('in an operation that is safe to repeat', () => {
    it('is retried, and the operation succeeds once the conflict is gone', async () => {
      let calls = 0;
      const result = await retryOnConflict(async () => {
        if (++calls < 3) throw deadlock();
        return 'done';
      });
      assert.deepEqual([result, calls], ['done', 3]);
    });

    it('is retried a bounded number of times, then thrown', async () => {
      let calls = 0;
      await assert.rejects(
        retryOnConflict(async () => {
          calls++;
          throw serializationFailure();
        }),
        /could not serialize/,
      );
      assert.equal(calls, 4);
    });

    it('is told apart from other errors, which are thrown at once', async () => {
      let calls = 0;
      await assert.rejects(
        retryOnConflict(async () => {
          calls++;
          throw Object.assign(new Error('duplicate key'), { code: '23505' });
        }),
      );
      assert.equal(calls, 1);
    });
  });

  describe('that reaches the API', () => {
    let server: Server;
    let baseUrl: string;

    before(async () => {
      const failing = { get: async () => Promise.reject(deadlock()) } as unknown as MailingService;
      const app = await createApp({
        logger: createLogger('silent', 'transient-conflicts-spec'),
        services: { mailings: failing, readiness: { postgres: async () => undefined, temporal: async () => undefined } },
        maxBodyBytes: 16 * 1024,
        imports: { maxBytes: 64 * 1024, atOnce: 1 },
        auth: { disabled: true },
      });
      server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server?.close());

    it('is answered 503 with Retry-After, never 500', async () => {
      const res = await fetch(`${baseUrl}/api/mailings/1/`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.match(((await res.json()) as { detail: string }).detail, /retry/);
    });
  });
});
