import assert from 'node:assert/strict';
import { assertProblem, useApi } from '../support/api';

describe('service endpoints', () => {
  const ctx = useApi();

  it('lists the resources of the API at /api/', async () => {
    const res = await ctx.api.get('/api/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { clients: '/api/clients/', mailings: '/api/mailings/', messages: '/api/messages/', docs: '/docs/' });
  });

  it('answers /healthz with status ok', async () => {
    const res = await ctx.api.get('/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ok');
  });

  it('answers /readyz 200 with the postgres and temporal checks ok', async () => {
    const res = await ctx.api.get('/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it('serves a Swagger UI page at /docs/ that loads swagger-ui-bundle.js', async () => {
    const res = await ctx.api.get('/docs/', { unchecked: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.text, /swagger-ui-bundle\.js/);
  });

  it('serves swagger-ui-bundle.js from the installed package as javascript', async () => {
    const res = await ctx.api.get('/docs/swagger-ui-bundle.js', { unchecked: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.ok(res.text.length > 100_000, 'the bundle is suspiciously small');
  });

  it('serves a Swagger UI initializer that points at /openapi.yaml', async () => {
    const res = await ctx.api.get('/docs/swagger-initializer.js', { unchecked: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.match(res.text, /url: '\/openapi\.yaml'/);
  });

  it('redirects /docs to /docs/', async () => {
    const res = await ctx.api.get('/docs', { unchecked: true });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/docs/');
  });

  it('serves the OpenAPI document at /openapi.yaml', async () => {
    const res = await ctx.api.get('/openapi.yaml', { unchecked: true });
    assert.equal(res.status, 200);
    assert.match(res.text, /^openapi: 3\.0\.3/);
    assert.match(res.text, /operationId: createClient/);
  });

  it('answers an unknown path with a 404 problem', async () => {
    const res = await ctx.api.get('/api/nothing-here/');
    assertProblem(res, 404);
  });

  it('answers POST on /api/ with a 405 problem', async () => {
    const res = await ctx.api.post('/api/', {});
    assertProblem(res, 405);
  });

  it('does not serve files outside the Swagger UI package through /docs/', async () => {
    const res = await ctx.api.get('/docs/..%2F..%2Fpackage.json', { unchecked: true });
    assert.ok(res.status >= 400 && res.status < 500, `expected 4xx, got ${res.status}`);
    assert.doesNotMatch(res.text, /swagger-ui-dist/);
  });

  it('answers a missing file under /docs/ with a 404 problem', async () => {
    const res = await ctx.api.get('/docs/no-such-file.js');
    assertProblem(res, 404);
  });
});
