import assert from 'node:assert/strict';
import { assertProblem, randomPhone, useApi, type Api } from '../support/api';
import { newApiKey, specOperations, type SpecOperation } from '../support/auth';

const CHALLENGE = 'Bearer realm="mailing-service"';

/** A body the operation would take, so that a refusal cannot come from validation. */
const bodies: Record<string, unknown> = {
  createClient: { phone_number: '79990000000', timezone: 'UTC' },
  previewAudience: { filter: {} },
};

function ask(api: Api, { method, path, operationId }: SpecOperation) {
  const json = method === 'GET' || method === 'DELETE' ? undefined : (bodies[operationId] ?? {});
  return api.request(method, path, { json });
}

describe('authentication', () => {
  const ctx = useApi();
  let operations: SpecOperation[];
  before(async () => {
    operations = await specOperations();
  });
  const secured = () => operations.filter((o) => o.secured);

  describe('without credentials', () => {
    it('answers every /api/ operation 401 with a Bearer challenge and a problem', async () => {
      const apiOperations = secured().filter((o) => o.path.startsWith('/api/'));
      assert.ok(apiOperations.length >= 20, 'the spec should secure every /api/ operation');
      for (const operation of apiOperations) {
        const res = await ask(ctx.api.as(null), operation);
        assertProblem(res, 401);
        assert.equal(res.headers.get('www-authenticate'), CHALLENGE, operation.operationId);
      }
    });

    it('declares no operation open but the probes and signing in and out', () => {
      const open = operations.filter((o) => !o.secured).map((o) => o.operationId).sort();
      assert.deepEqual(open, ['completeSignIn', 'getHealth', 'getReadiness', 'signIn', 'signOut']);
    });

    it('answers a path outside the spec 401, not 404, so that nothing is learnt about what exists', async () => {
      const res = await ctx.api.as(null).get('/api/nothing-here/');
      assertProblem(res, 401);
    });

    for (const path of ['/healthz', '/readyz', '/openapi.yaml', '/docs/', '/docs/swagger-ui-bundle.js']) {
      it(`serves ${path} to anyone`, async () => {
        const res = await ctx.api.as(null).get(path, { unchecked: true });
        assert.equal(res.status, 200, res.text.slice(0, 300));
      });
    }

    it('answers /auth/login 404 when no OpenID Connect provider is configured (API keys only)', async () => {
      const res = await ctx.api.as(null).get('/auth/login');
      assertProblem(res, 404);
      assert.match(res.body.detail, /OIDC_ISSUER/);
    });

    it('answers /auth/me 401', async () => {
      const res = await ctx.api.as(null).get('/auth/me');
      assertProblem(res, 401);
      assert.equal(res.headers.get('www-authenticate'), CHALLENGE);
    });
  });

  describe('with refused credentials', () => {
    const refusals: [string, string, RegExp][] = [
      ['an unknown API key', 'Bearer msk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', /error="invalid_token"/],
      ['a token while no OpenID Connect issuer is configured', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x', /error="invalid_token"/],
      ['another scheme than Bearer', 'Basic b3BlcmF0b3I6b3BlcmF0b3I=', /error="invalid_request"/],
      ['Bearer without a credential', 'Bearer ', /error="invalid_request"/],
    ];
    for (const [what, authorization, error] of refusals) {
      it(`answers ${what} 401 with the error in the challenge`, async () => {
        const res = await ctx.api.as(null).get('/api/clients/', { headers: { authorization } });
        assertProblem(res, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="mailing-service", /);
        assert.match(res.headers.get('www-authenticate') ?? '', error);
      });
    }
  });

  describe('a viewer API key', () => {
    let viewer: Api;
    before(async () => {
      viewer = ctx.api.as((await newApiKey('viewer')).key);
    });

    it('may read through every GET operation', async () => {
      for (const operation of secured().filter((o) => o.method === 'GET')) {
        const res = await ask(viewer, operation);
        assert.ok(![401, 403].includes(res.status), `${operation.operationId}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    });

    it('is refused 403 on every operation that writes, and nothing changes', async () => {
      const writes = secured().filter((o) => o.method !== 'GET');
      assert.ok(writes.length >= 10);
      const clientsBefore = await ctx.api.db('clients').count('* as n');
      for (const operation of writes) {
        const res = await ask(viewer, operation);
        assertProblem(res, 403);
        assert.match(res.body.detail, /viewer/, operation.operationId);
      }
      assert.deepEqual(await ctx.api.db('clients').count('* as n'), clientsBefore);
    });

    it('is named at /auth/me as a viewer by API key', async () => {
      const res = await viewer.get('/auth/me');
      assert.equal(res.status, 200);
      assert.equal(res.body.role, 'viewer');
      assert.equal(res.body.via, 'api-key');
      assert.match(res.body.name, /^test-viewer-/);
    });
  });

  describe('an operator API key', () => {
    it('may write', async () => {
      const operator = ctx.api.as((await newApiKey('operator')).key);
      const created = await operator.post('/api/clients/', { phone_number: randomPhone(), timezone: 'UTC' });
      assert.equal(created.status, 201, created.text);
      ctx.api.created.clients.add(created.body.id);
    });

    it('is named at /auth/me as an operator by API key', async () => {
      const { key, name } = await newApiKey('operator');
      const res = await ctx.api.as(key).get('/auth/me');
      assert.deepEqual(res.body, { name, role: 'operator', via: 'api-key' });
    });
  });
});

describe('with AUTH_DISABLED', () => {
  const ctx = useApi({ auth: { disabled: true } });

  it('lets an anonymous caller write, as an operator', async () => {
    const res = await ctx.api.as(null).post('/api/mailings/preview/', { filter: {} });
    assert.equal(res.status, 200, res.text);
  });

  it('names every caller at /auth/me an operator let in because authentication is disabled', async () => {
    const res = await ctx.api.as(null).get('/auth/me');
    assert.equal(res.status, 200);
    assert.equal(res.body.role, 'operator');
    assert.equal(res.body.via, 'disabled');
  });
});
