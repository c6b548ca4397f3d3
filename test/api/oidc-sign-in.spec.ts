import assert from 'node:assert/strict';
import { assertProblem, randomPhone } from '../support/api';
import { CookieBrowser, signInOverHttp, useSignInApi } from '../support/sign-in';

const XHR = { 'x-requested-with': 'XMLHttpRequest' };

/** Signing in to the admin UI with OpenID Connect, against the development identity provider over HTTP. */
describe('signing in with OpenID Connect', () => {
  const ctx = useSignInApi();

  /** A request of the signed-in browser, checked against the spec like every other. */
  async function asBrowser(browser: CookieBrowser, method: string, path: string, options: { json?: unknown; headers?: Record<string, string> } = {}) {
    return ctx.api.as(null).request(method, path, { ...options, headers: { cookie: browser.cookieHeader(ctx.publicUrl), ...options.headers } });
  }

  describe('the round trip', () => {
    it('goes from /auth/login through the provider form back to return_to, and /auth/me names an operator by session', async () => {
      const { browser, landedAt } = await signInOverHttp(ctx, 'operator', '/admin/mailings?status=running');
      assert.equal(landedAt, `${ctx.publicUrl}/admin/mailings?status=running`);
      const me = await asBrowser(browser, 'GET', '/auth/me');
      assert.equal(me.status, 200, me.text);
      assert.deepEqual(me.body, { name: 'operator', role: 'operator', via: 'session' });
    });

    it('sets an httpOnly, SameSite=Lax session cookie, signed, and not Secure over http', async () => {
      const browser = new CookieBrowser();
      const res = await browser.fetch(`${ctx.publicUrl}/auth/login`);
      const cookies = res.headers.getSetCookie();
      const session = cookies.find((c) => c.startsWith('mailings.session='));
      assert.ok(session, `no session cookie in ${JSON.stringify(cookies)}`);
      assert.match(session, /; httponly/i);
      assert.match(session, /; samesite=lax/i);
      assert.doesNotMatch(session, /; secure/i);
      assert.ok(cookies.some((c) => c.startsWith('mailings.session.sig=')), 'the session cookie is not signed');
    });

    it('lands on /admin/ when no return_to is given', async () => {
      const { landedAt } = await signInOverHttp(ctx, 'viewer', '/admin/');
      assert.equal(landedAt, `${ctx.publicUrl}/admin/`);
    });

    it('names a viewer a viewer', async () => {
      const { browser } = await signInOverHttp(ctx, 'viewer');
      assert.deepEqual((await asBrowser(browser, 'GET', '/auth/me')).body, { name: 'viewer', role: 'viewer', via: 'session' });
    });

    it('shows the form again on a wrong password, and signs nobody in', async () => {
      const browser = new CookieBrowser();
      const form = await browser.follow(`${ctx.publicUrl}/auth/login`);
      const action = /action="([^"]+)"/.exec(await form.response.text())![1];
      const res = await browser.fetch(new URL(action, form.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login: 'operator', password: 'wrong' }).toString(),
      });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Unknown login or wrong password/);
      assertProblem(await asBrowser(browser, 'GET', '/auth/me'), 401);
    });
  });

  describe('/auth/login', () => {
    it('sends the browser to the provider with the authorization code flow, PKCE (S256), state and nonce', async () => {
      const res = await ctx.api.as(null).get('/auth/login?return_to=/admin/');
      assert.equal(res.status, 302);
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.origin, ctx.idp.issuer);
      const params = Object.fromEntries(location.searchParams);
      assert.equal(params.response_type, 'code');
      assert.equal(params.client_id, ctx.idp.clientId);
      assert.equal(params.redirect_uri, `${ctx.publicUrl}/auth/callback`);
      assert.equal(params.code_challenge_method, 'S256');
      assert.match(params.code_challenge, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(params.state && params.nonce);
      assert.match(params.scope, /\bopenid\b/);
    });

    for (const returnTo of ['//evil.example/admin/', '/\\evil.example', 'https://evil.example/', 'admin/']) {
      it(`refuses return_to ${returnTo} (not a path of this site) with 400 naming query.return_to`, async () => {
        const res = await ctx.api.as(null).get(`/auth/login?return_to=${encodeURIComponent(returnTo)}`);
        assertProblem(res, 400, 'query.return_to');
      });
    }
  });

  describe('/auth/callback', () => {
    it('refuses a callback with no sign-in under way in this browser (a forged or replayed one) with 400', async () => {
      const res = await ctx.api.as(null).get('/auth/callback?code=abc&state=xyz');
      assertProblem(res, 400);
      assert.match(res.body.detail, /no sign-in is under way/);
    });

    it('refuses a callback whose state is not the one sent, and signs nobody in', async () => {
      const browser = new CookieBrowser();
      await browser.fetch(`${ctx.publicUrl}/auth/login`);
      const res = await asBrowser(browser, 'GET', '/auth/callback?code=abc&state=another-state');
      assertProblem(res, 400);
      assertProblem(await asBrowser(browser, 'GET', '/auth/me'), 401);
    });

    it('passes on what the provider refused, with 400', async () => {
      const browser = new CookieBrowser();
      await browser.fetch(`${ctx.publicUrl}/auth/login`);
      const res = await asBrowser(browser, 'GET', '/auth/callback?error=access_denied&error_description=The%20user%20said%20no');
      assertProblem(res, 400);
      assert.match(res.body.detail, /access_denied: The user said no/);
    });
  });

  describe('a session', () => {
    it('may write only with X-Requested-With: 403 without it (a cross-site form cannot set it), 201 with it', async () => {
      const { browser } = await signInOverHttp(ctx, 'operator');
      const client = { phone_number: randomPhone(), timezone: 'UTC' };
      const refused = await asBrowser(browser, 'POST', '/api/clients/', { json: client });
      assertProblem(refused, 403);
      assert.match(refused.body.detail, /X-Requested-With/);
      const created = await asBrowser(browser, 'POST', '/api/clients/', { json: client, headers: XHR });
      assert.equal(created.status, 201, created.text);
      await ctx.api.db('clients').where('id', created.body.id).del();
    });

    it('of a viewer reads, and is refused 403 when it writes even with X-Requested-With', async () => {
      const { browser } = await signInOverHttp(ctx, 'viewer');
      assert.equal((await asBrowser(browser, 'GET', '/api/clients/?limit=1')).status, 200);
      const refused = await asBrowser(browser, 'POST', '/api/clients/', { json: { phone_number: randomPhone(), timezone: 'UTC' }, headers: XHR });
      assertProblem(refused, 403);
      assert.match(refused.body.detail, /viewer/);
    });

    it('is not taken from a cookie whose signature does not match (an edited role)', async () => {
      const { browser } = await signInOverHttp(ctx, 'viewer');
      const value = browser.cookie(ctx.publicUrl, 'mailings.session')!;
      const data = JSON.parse(Buffer.from(value, 'base64').toString());
      data.user.role = 'operator';
      const edited = Buffer.from(JSON.stringify(data)).toString('base64');
      const res = await ctx.api.as(null).get('/auth/me', { headers: { cookie: `mailings.session=${edited}; mailings.session.sig=${browser.cookie(ctx.publicUrl, 'mailings.session.sig')}` } });
      assertProblem(res, 401);
    });
  });

  describe('/auth/logout', () => {
    it("ends the session and answers the provider's end-session URL with id_token_hint and the way back to /admin/", async () => {
      const { browser } = await signInOverHttp(ctx, 'operator');
      const res = await asBrowser(browser, 'POST', '/auth/logout', { headers: XHR });
      assert.equal(res.status, 200, res.text);
      const redirect = new URL(res.body.redirect);
      assert.equal(`${redirect.origin}${redirect.pathname}`, `${ctx.idp.issuer}/session/end`);
      assert.ok(redirect.searchParams.get('id_token_hint'));
      assert.equal(redirect.searchParams.get('post_logout_redirect_uri'), `${ctx.publicUrl}/admin/`);
      const session = res.headers.getSetCookie().find((c) => c.startsWith('mailings.session='));
      assert.match(session ?? '', /expires=Thu, 01 Jan 1970/i, 'the session cookie is not cleared');
    });

    it('signs out at the provider too: following the URL comes back to /admin/, and the next sign-in asks for the password again', async () => {
      const { browser } = await signInOverHttp(ctx, 'operator');
      const res = await browser.fetch(`${ctx.publicUrl}/auth/logout`, { method: 'POST', headers: XHR });
      const { redirect } = (await res.json()) as { redirect: string };
      assertProblem(await asBrowser(browser, 'GET', '/auth/me'), 401);
      // The provider's confirmation page submits itself (a script); a browser without scripts submits it by hand.
      const confirmation = await browser.follow(redirect);
      const page = await confirmation.response.text();
      const action = /action="([^"]+)"/.exec(page)![1];
      const fields = Object.fromEntries([...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      const submitted = await browser.fetch(new URL(action, confirmation.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      const back = await browser.follow(new URL(submitted.headers.get('location')!, confirmation.url));
      assert.equal(back.url, `${ctx.publicUrl}/admin/`);
      const again = await browser.follow(`${ctx.publicUrl}/auth/login`);
      assert.match(await again.response.text(), /<form method="post"/, 'the provider still had a session');
    });

    it('answers /admin/ when nobody is signed in', async () => {
      const res = await ctx.api.as(null).post('/auth/logout');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { redirect: '/admin/' });
    });

    it('refuses 403 a session without X-Requested-With (a cross-site form signing people out)', async () => {
      const { browser } = await signInOverHttp(ctx, 'viewer');
      assertProblem(await asBrowser(browser, 'POST', '/auth/logout'), 403);
      assert.equal((await asBrowser(browser, 'GET', '/auth/me')).status, 200);
    });
  });
});
