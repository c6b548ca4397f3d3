import assert from 'node:assert/strict';
import { Model } from 'objection';
import type { MailingService } from '../../domain/mailings';
import type { Role } from '../../domain/roles';
import { startDevIdentityProvider, type DevIdentityProvider } from '../../stack/sign-in/dev-identity-provider';
import { freePort } from '../../stack/process/ports';
import { startApi, type Api, type ApiOptions, type RunningApi } from './api';

/**
 * The API with OpenID Connect sign-in against the development identity provider
 * (stack/sign-in/dev-identity-provider.ts), both in-process on free ports. Browsers reach the API at
 * `publicUrl` (http://localhost:PORT) and the provider at `idp.issuer` (http://127.0.0.1:PORT): two
 * sites, as in production. For browser tests: open `${publicUrl}/admin/`, sign in with
 * `idp.users.operator` or `idp.users.viewer` on the provider's form (fields `login`, `password`).
 */
export interface SignInContext {
  api: Api;
  idp: DevIdentityProvider;
  publicUrl: string;
  /** The service the app was built with, e.g. for a worker's reconciler. */
  mailings: MailingService;
}

export const TEST_SESSION_SECRET = 'test-session-secret-of-at-least-32-characters';

/** `options` as for useApi (e.g. a `taskQueue` that a worker polls); `auth` is the sign-in set up here. */
export async function startSignInApi(options: Omit<ApiOptions, 'auth'> = {}): Promise<SignInContext & { close(): Promise<void> }> {
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const idp = await startDevIdentityProvider({ publicUrl });
  let running: RunningApi;
  try {
    running = await startApi({
      ...options,
      port,
      auth: {
        oidc: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecret: idp.clientSecret,
          audience: idp.clientId,
          roleClaim: idp.roleClaim,
          operatorValues: ['operator'],
          viewerValues: ['viewer'],
          sessionSecret: TEST_SESSION_SECRET,
          publicUrl,
        },
      },
    });
  } catch (error) {
    await idp.stop();
    throw error;
  }
  return {
    api: running.api,
    idp,
    publicUrl,
    mailings: running.mailings,
    async close() {
      await running.close();
      await idp.stop();
    },
  };
}

/** Call inside a `describe`: the API with sign-in and its provider run for its tests. */
export function useSignInApi(options: Omit<ApiOptions, 'auth'> = {}): SignInContext {
  const holder = {} as SignInContext;
  let started: Awaited<ReturnType<typeof startSignInApi>> | undefined;
  before(async function () {
    this.timeout(60_000);
    started = await startSignInApi(options);
    Object.assign(holder, { api: started.api, idp: started.idp, publicUrl: started.publicUrl, mailings: started.mailings });
  });
  beforeEach(() => {
    // objection's models share one global knex; another test file may have pointed it elsewhere.
    Model.knex(holder.api.db);
  });
  after(async function () {
    this.timeout(60_000);
    await started?.close();
  });
  return holder;
}

/**
 * A browser without a browser: follows redirects by hand, keeping cookies per host (as browsers do,
 * ports aside), so that a test can walk the sign-in pages over HTTP.
 */
export class CookieBrowser {
  private readonly jars = new Map<string, Map<string, string>>();

  /** The cookies this browser would send to `url`. */
  cookieHeader(url: string | URL): string {
    return [...(this.jars.get(new URL(url).hostname) ?? new Map()).entries()].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  cookie(url: string, name: string): string | undefined {
    return this.jars.get(new URL(url).hostname)?.get(name);
  }

  /** One request, no redirect followed; keeps what Set-Cookie says. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookies = this.cookieHeader(url);
    if (cookies) headers.set('cookie', cookies);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    const jar = this.jars.get(new URL(url).hostname) ?? new Map<string, string>();
    this.jars.set(new URL(url).hostname, jar);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...value] = pair.split('=');
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\b/i.test(a));
      if (expired || value.join('=') === '') jar.delete(name.trim());
      else jar.set(name.trim(), value.join('='));
    }
    return response;
  }

  /** GETs `url` and follows redirects until an answer that is not one; answers it and where it was. */
  async follow(url: string | URL, init: RequestInit = {}): Promise<{ response: Response; url: string; visited: string[] }> {
    const visited: string[] = [];
    let current = new URL(url).href;
    let response = await this.fetch(current, init);
    while ([301, 302, 303, 307, 308].includes(response.status)) {
      await response.arrayBuffer();
      visited.push(current);
      current = new URL(response.headers.get('location')!, current).href;
      assert.ok(visited.length < 20, `too many redirects: ${visited.join(' -> ')}`);
      response = await this.fetch(current);
    }
    return { response, url: current, visited };
  }
}

/**
 * Signs in through the provider's form as `role`, the way a person does: /auth/login, the form, back
 * at the API. Answers the browser (holding the session cookie) and where it landed.
 */
export async function signInOverHttp(ctx: SignInContext, role: Role, returnTo = '/admin/'): Promise<{ browser: CookieBrowser; landedAt: string }> {
  const browser = new CookieBrowser();
  const form = await browser.follow(`${ctx.publicUrl}/auth/login?return_to=${encodeURIComponent(returnTo)}`);
  assert.equal(form.response.status, 200, 'the provider should show its sign-in form');
  const action = /<form method="post" action="([^"]+)"/.exec(await form.response.text())?.[1];
  assert.ok(action, 'no sign-in form on the provider page');
  const user = ctx.idp.users[role];
  const posted = await browser.fetch(new URL(action, form.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login: user.login, password: user.password }).toString(),
  });
  assert.equal(posted.status, 303, `the provider should accept the credentials, got ${posted.status}`);
  await posted.arrayBuffer();
  const back = await browser.follow(new URL(posted.headers.get('location')!, form.url));
  return { browser, landedAt: back.url };
}
