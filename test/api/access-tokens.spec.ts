import assert from 'node:assert/strict';
import { Model } from 'objection';
import { assertProblem, randomPhone, startApi, type Api, type RunningApi } from '../support/api';
import { TEST_SESSION_SECRET } from '../support/sign-in';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer';

const AUDIENCE = 'mailing-service';
const now = () => Math.floor(Date.now() / 1000);

/** Access tokens (JWTs) of an issuer the API is configured with, checked against its published keys. */
describe('access tokens', () => {
  let issuer: TokenIssuer;
  let foreign: TokenIssuer;
  let running: RunningApi;
  let api: Api;

  before(async function () {
    this.timeout(60_000);
    [issuer, foreign] = await Promise.all([startTokenIssuer(), startTokenIssuer()]);
    running = await startApi({
      auth: {
        oidc: {
          issuer: issuer.url,
          clientId: 'mailing-service-admin',
          clientSecret: 'unused-here',
          audience: AUDIENCE,
          roleClaim: 'realm_access.roles',
          operatorValues: ['mailings-operator'],
          viewerValues: ['mailings-viewer', 'auditor'],
          sessionSecret: TEST_SESSION_SECRET,
          publicUrl: 'http://localhost:1',
        },
      },
    });
    api = running.api;
  });
  beforeEach(() => Model.knex(api.db)); // objection's models share one global knex; another describe may have moved it
  after(async function () {
    this.timeout(60_000);
    await running?.close();
    await Promise.all([issuer?.stop(), foreign?.stop()]);
  });

  const token = (role: string, claims: Record<string, unknown> = {}) =>
    issuer.sign({ sub: 'u-1', preferred_username: 'olga', aud: AUDIENCE, realm_access: { roles: ['offline_access', role] }, ...claims });

  async function assertRefused(credential: string, reason: RegExp) {
    const res = await api.as(credential).get('/api/clients/?limit=1');
    assertProblem(res, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="mailing-service", error="invalid_token"');
    assert.match(res.body.detail, reason);
  }

  it('lets an operator token read and write, named by preferred_username, via token', async () => {
    const operator = api.as(await token('mailings-operator'));
    assert.deepEqual((await operator.get('/auth/me')).body, { name: 'olga', role: 'operator', via: 'token' });
    const created = await operator.post('/api/clients/', { phone_number: randomPhone(), timezone: 'UTC' });
    assert.equal(created.status, 201, created.text);
    await api.db('clients').where('id', created.body.id).del();
  });

  it('lets a viewer token read and refuses its writes with 403', async () => {
    const viewer = api.as(await token('auditor'));
    assert.equal((await viewer.get('/api/clients/?limit=1')).status, 200);
    assertProblem(await viewer.post('/api/clients/', { phone_number: randomPhone(), timezone: 'UTC' }), 403);
  });

  it('takes the operator role when the claim names both an operator and a viewer value', async () => {
    const both = await issuer.sign({ sub: 'u-2', aud: AUDIENCE, realm_access: { roles: ['mailings-viewer', 'mailings-operator'] } });
    assert.equal((await api.as(both).get('/auth/me')).body.role, 'operator');
  });

  it('refuses with 403 a valid token whose role claim names no role of this API', async () => {
    const res = await api.as(await token('billing')).get('/api/clients/?limit=1');
    assertProblem(res, 403);
    assert.match(res.body.detail, /olga has no role here/);
  });

  it('refuses an expired token', async () => {
    await assertRefused(await token('mailings-operator', { exp: now() - 60, iat: now() - 3600 }), /expired/);
  });

  it('refuses a token signed with a key the issuer does not publish (a bad signature)', async () => {
    const forged = await issuer.sign({ sub: 'u-1', aud: AUDIENCE, realm_access: { roles: ['mailings-operator'] } }, { key: 'unpublished' });
    await assertRefused(forged, /signature/);
  });

  it('refuses a token whose signature was tampered with', async () => {
    const [header, payload, signature] = (await token('mailings-operator')).split('.');
    await assertRefused(`${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`, /signature/);
  });

  it('refuses a token of another issuer, signed with its own keys', async () => {
    const other = await foreign.sign({ sub: 'u-1', aud: AUDIENCE, realm_access: { roles: ['mailings-operator'] } });
    await assertRefused(other, /signature/);
  });

  it('refuses a token naming another issuer, even signed with the right key', async () => {
    await assertRefused(await token('mailings-operator', { iss: foreign.url }), /another issuer/);
  });

  it('refuses a token meant for another audience', async () => {
    await assertRefused(await token('mailings-operator', { aud: 'another-api' }), /not meant for this API/);
  });

  it('refuses a token without expiry', async () => {
    await assertRefused(await token('mailings-operator', { exp: undefined }), /exp/);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iss: issuer.url, sub: 'u-1', aud: AUDIENCE, exp: now() + 3600, realm_access: { roles: ['mailings-operator'] } })}.`;
    await assertRefused(unsigned, /not a well-formed JWT|algorithm/);
  });

  it('refuses something that is not a JWT at all', async () => {
    await assertRefused('not-a-token', /not a well-formed JWT/);
  });
});
