import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { adminRoot } from '../../api/admin-ui';
import { ensureAdminBuilt } from '../../stack/admin-build';
import { useApi } from '../support/api';

describe('admin console files served by the API', () => {
  const ctx = useApi();
  let script: string;

  before(async function () {
    this.timeout(120_000);
    await ensureAdminBuilt();
    script = (await readdir(path.join(adminRoot, 'assets'))).find((f) => f.endsWith('.js'))!;
  });

  const get = (p: string, options: { headers?: Record<string, string> } = {}) => ctx.api.get(p, { unchecked: true, ...options });

  it('sends / and /admin to /admin/', async () => {
    for (const p of ['/', '/admin']) {
      const res = await get(p);
      assert.equal(res.status, 302, p);
      assert.equal(res.headers.get('location'), '/admin/');
    }
  });

  it('answers /admin/ with the app, never cached so that a new build shows at once', async () => {
    const res = await get('/admin/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.ok(res.text.includes(`/admin/assets/${script}`), res.text);
  });

  it("answers the app's own routes (/admin/mailings/42/show) with the app", async () => {
    const res = await get('/admin/mailings/42/show');
    assert.equal(res.status, 200);
    assert.ok(res.text.includes(`/admin/assets/${script}`));
  });

  it('serves hashed assets with a year-long immutable cache', async () => {
    const res = await get(`/admin/assets/${script}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /javascript/);
    assert.equal(res.headers.get('cache-control'), 'max-age=31536000,immutable');
  });

  it('serves hashed assets gzip-compressed to browsers that accept it', async () => {
    const res = await get(`/admin/assets/${script}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.equal(res.headers.get('vary'), 'Accept-Encoding');
  });

  it('answers an unknown asset with a 404 problem, not the app', async () => {
    const res = await get('/admin/assets/no-such-file.js');
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type')!, /^application\/problem\+json/);
  });

  it('leaves the API to the API', async () => {
    assert.equal((await ctx.api.get('/api/')).status, 200);
  });
});
