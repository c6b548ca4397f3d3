import Router from '@koa/router';
import { koaBody } from 'koa-body';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type Koa from 'koa';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { freePort } from '../process/ports';

/**
 * A development OpenID Connect provider (`oidc-provider`, the certified implementation) for the local
 * stack and the tests: one confidential client for the API, two people (an operator and a viewer)
 * whose `roles` claim gives their role, a sign-in form with login and password, no consent page, and
 * sign-out that ends the session here too. Everything lives in memory; nothing of it is for production.
 */

export interface DevUser {
  login: string;
  password: string;
}

export interface DevIdentityProvider {
  /** The issuer URL (OIDC_ISSUER): discovery is at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The claim that carries each person's role (OIDC_ROLE_CLAIM). */
  roleClaim: string;
  users: { operator: DevUser; viewer: DevUser };
  stop(): Promise<void>;
}

export interface DevIdentityProviderOptions {
  /** A free one when not given. */
  port?: number;
  /** Where browsers reach the API: its callback and the page after sign-out are registered from it. */
  publicUrl: string;
}

/** Fixed, printed by `npm start`: this provider only ever runs on a developer's machine or in tests. */
const PEOPLE = {
  operator: { password: 'operator-dev-password', name: 'Olga Operator', role: 'operator' },
  viewer: { password: 'viewer-dev-password', name: 'Victor Viewer', role: 'viewer' },
} as const;
type Login = keyof typeof PEOPLE;
const isLogin = (value: string): value is Login => Object.hasOwn(PEOPLE, value);

const CLIENT_ID = 'mailing-service-dev';
const ROLE_CLAIM = 'roles';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page without external resources (this machine may have no internet). */
const page = (title: string, body: string) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.3rem 0}input,button{padding:.4rem}.error{color:#b00020}</style>
</head><body>${body}</body></html>`;

function loginForm(uid: string, error?: string): string {
  return page(
    'Sign in (development)',
    `<h1>Sign in</h1>
<p>Development identity provider: <code>operator</code> / <code>${PEOPLE.operator.password}</code> or <code>viewer</code> / <code>${PEOPLE.viewer.password}</code>.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label for="login">Login</label><input id="login" name="login" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

/** The sign-in form (the only interaction: consent is granted below without asking). */
function interactions(provider: Provider): Koa.Middleware {
  const router = new Router();
  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') {
      // Consent for the one first-party client: loadExistingGrant makes the grant.
      await provider.interactionFinished(ctx.req, ctx.res, { consent: {} }, { mergeWithLastSubmission: true });
      return;
    }
    ctx.type = 'html';
    ctx.body = loginForm(ctx.params.uid);
  });
  router.post('/interaction/:uid/login', koaBody({ urlencoded: true, json: false, multipart: false, text: false }), async (ctx) => {
    await provider.interactionDetails(ctx.req, ctx.res); // refuses an unknown or expired interaction
    const { login = '', password = '' } = ctx.request.body as { login?: string; password?: string };
    if (!isLogin(login) || PEOPLE[login].password !== password) {
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = loginForm(ctx.params.uid, 'Unknown login or wrong password.');
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  });
  return router.routes() as Koa.Middleware;
}

/** How long each thing lives, in seconds (given, so that oidc-provider does not warn about its defaults). */
const TTL = { AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 };

function createProvider(issuer: string, clientSecret: string, publicUrl: string, signingKey: JWK): Provider {
  return new Provider(issuer, {
    jwks: { keys: [signingKey] },
    ttl: TTL,
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: [`${publicUrl}/auth/callback`],
        post_logout_redirect_uris: [`${publicUrl}/admin/`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    async findAccount(_ctx, id) {
      if (!isLogin(id)) return undefined;
      const person = PEOPLE[id];
      return { accountId: id, claims: () => ({ sub: id, name: person.name, preferred_username: id, [ROLE_CLAIM]: [person.role] }) };
    },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', ROLE_CLAIM] },
    // The API reads the role from the ID token, as it would from Keycloak with a mapper "add to ID token".
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The confirmation oidc-provider would show is submitted at once: signing out of the console signs out here.
        logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = 'html';
          ctx.body = page('Signing out', `${form.replace('</form>', '<input type="hidden" name="logout" value="yes"></form>')}<script>document.forms[0].submit()</script>`);
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // The API is this provider's own client: it is granted what it asks without a consent page.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId });
      grant.addOIDCScope('openid profile');
      await grant.save();
      return grant;
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>${escapeHtml(String(out.error))}</h1><p>${escapeHtml(String(out.error_description ?? ''))}</p>`);
    },
  });
}

export async function startDevIdentityProvider({ port, publicUrl }: DevIdentityProviderOptions): Promise<DevIdentityProvider> {
  const listenPort = port ?? (await freePort());
  const issuer = `http://127.0.0.1:${listenPort}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `dev-${Date.now()}`, alg: 'RS256', use: 'sig' };
  const provider = createProvider(issuer, clientSecret, publicUrl.replace(/\/$/, ''), signingKey);
  provider.use(interactions(provider));
  const server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listenPort, '127.0.0.1', resolve));
  return {
    issuer,
    clientId: CLIENT_ID,
    clientSecret,
    roleClaim: ROLE_CLAIM,
    users: {
      operator: { login: 'operator', password: PEOPLE.operator.password },
      viewer: { login: 'viewer', password: PEOPLE.viewer.password },
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
