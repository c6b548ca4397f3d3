import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp } from '../../api/app';
import { createLogger } from '../../config/logger';
import type { MailingService } from '../../domain/mailings';

describe('readiness while a dependency is down', () => {
  let server: Server;
  let baseUrl: string;

  before(async () => {
    const refused = async () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432 (user mailings)'));
    const app = await createApp({
      logger: createLogger('silent', 'readiness-spec'),
      services: { mailings: {} as MailingService, readiness: { postgres: refused, temporal: async () => undefined } },
      maxBodyBytes: 16 * 1024,
      imports: { maxBytes: 64 * 1024, atOnce: 1 },
      auth: {},
    });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server?.close());

  it('tells an anonymous caller which dependency is unavailable, and not why (no address, user or error)', async () => {
    const res = await fetch(`${baseUrl}/readyz`);
    assert.equal(res.status, 503);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { status: 'unavailable', checks: { postgres: 'unavailable', temporal: 'ok' } });
    assert.doesNotMatch(text, /10\.1\.2\.3|ECONNREFUSED|mailings/);
  });

  it('tells when to ask again (Retry-After), as every 503 does', async () => {
    const res = await fetch(`${baseUrl}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
  });
});
