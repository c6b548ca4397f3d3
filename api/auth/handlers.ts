import type Koa from 'koa';
import * as oidc from 'openid-client';
import type { Principal } from '../../domain/roles';
import { Problem } from '../problem';
import type { OidcOptions } from './options';
import { providerUnavailable } from './provider';
import { forbidden } from './refusals';
import { nameOf, roleOf } from './role-claim';
import { endSession, signIn, startSignIn, takeSignIn } from './session';

/** Where the admin UI lives: the default place to come back to, and the page after signing out. */
const ADMIN_HOME = '/admin/';

/** What the sign-in operations need when OpenID Connect is configured. */
export interface SignInSettings {
  options: OidcOptions;
  provider: () => Promise<oidc.Configuration>;
}

const notConfigured = () => new Problem(404, 'Not found', 'signing in needs an OpenID Connect provider (OIDC_ISSUER); this API takes API keys only');

/** A path of this site, never another origin (`//evil.example`, `/\evil.example`): no open redirect. */
function isLocalPath(path: string, publicUrl: string): boolean {
  return /^\/(?![/\\])/.test(path) && new URL(path, publicUrl).origin === new URL(publicUrl).origin;
}

/** A 302 with an empty body (openapi.yaml declares none; Koa would answer 204 to a null one). */
function redirect(ctx: Koa.Context, location: string): void {
  ctx.status = 302;
  ctx.set('Location', location);
  ctx.body = '';
}

/** The role claim may be left out of the ID token (a provider's choice); the userinfo endpoint has it then. */
async function claimsOf(settings: SignInSettings, config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) {
  const claims = tokens.claims() as Record<string, unknown>;
  if (roleOf(claims, settings.options) || !config.serverMetadata().userinfo_endpoint) return claims;
  return { ...claims, ...(await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub))) };
}

/** The auth operations of openapi.yaml, keyed by operationId. */
export function authHandlers(settings?: SignInSettings) {
  const callbackUrl = settings && `${settings.options.publicUrl}/auth/callback`;
  return {
    getCaller: (_c: unknown, ctx: Koa.Context) => {
      const { name, role, via } = ctx.state.principal as Principal;
      ctx.body = { name, role, via };
    },

    signIn: async (_c: unknown, ctx: Koa.Context) => {
      if (!settings) throw notConfigured();
      const returnTo = typeof ctx.query.return_to === 'string' ? ctx.query.return_to : ADMIN_HOME;
      if (!isLocalPath(returnTo, settings.options.publicUrl)) {
        throw new Problem(400, 'Invalid request', 'return_to must be a path of this site', [{ field: 'query.return_to', message: 'must be a path of this site' }]);
      }
      const config = await settings.provider();
      const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier(), returnTo };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: callbackUrl!,
        scope: 'openid profile',
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
      });
      startSignIn(ctx, pending);
      redirect(ctx, url.href);
    },

    completeSignIn: async (_c: unknown, ctx: Koa.Context) => {
      if (!settings) throw notConfigured();
      const pending = takeSignIn(ctx);
      if (!pending) throw new Problem(400, 'Invalid request', 'no sign-in is under way in this browser, or it took over 10 minutes: start again at /auth/login');
      const { error, error_description: description } = ctx.query;
      if (typeof error === 'string') throw new Problem(400, 'Sign-in refused', `the identity provider answered ${error}${typeof description === 'string' ? `: ${description}` : ''}`);
      const config = await settings.provider();
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(config, new URL(`${callbackUrl}?${ctx.querystring}`), {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
      } catch (failure) {
        if (failure instanceof oidc.ResponseBodyError || failure instanceof oidc.AuthorizationResponseError || failure instanceof oidc.ClientError) {
          throw new Problem(400, 'Sign-in failed', `the sign-in could not be completed: ${failure.message}`);
        }
        throw providerUnavailable(failure);
      }
      const claims = await claimsOf(settings, config, tokens);
      const role = roleOf(claims, settings.options);
      if (!role) throw forbidden(`${nameOf(claims)} is signed in at the identity provider but has no role here: its ${settings.options.roleClaim} claim names no operator or viewer value`);
      signIn(ctx, { name: nameOf(claims), role, idToken: tokens.id_token });
      ctx.state.logger.info({ user: nameOf(claims), role }, 'signed in');
      redirect(ctx, pending.returnTo);
    },

    signOut: async (_c: unknown, ctx: Koa.Context) => {
      // Signing out is a write of the session: a cross-site form must not do it either.
      if (ctx.session?.user && !ctx.get('x-requested-with')) throw forbidden('a request signed in by the session cookie must carry the header X-Requested-With unless it only reads');
      const { idToken } = endSession(ctx);
      ctx.body = { redirect: (settings && idToken && (await endSessionUrl(settings, idToken))) || ADMIN_HOME };
    },
  };
}

/** The provider's sign-out page, coming back to the admin UI; none when it has no end_session_endpoint or cannot be reached. */
async function endSessionUrl(settings: SignInSettings, idToken: string): Promise<string | undefined> {
  try {
    const config = await settings.provider();
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: `${settings.options.publicUrl}${ADMIN_HOME}` }).href;
  } catch {
    return undefined; // the session here is over all the same
  }
}
