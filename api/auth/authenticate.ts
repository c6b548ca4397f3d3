import type Koa from 'koa';
import { isApiKey, principalOfApiKey } from '../../domain/api-keys';
import type { Principal } from '../../domain/roles';
import type { AuthOptions } from './options';
import { forbidden, unauthorized } from './refusals';

/** Ways in beyond API keys, present when OpenID Connect is configured. */
export interface Identifiers {
  /** The caller of a verified access token (JWT); refuses (throws a Problem) any other. */
  accessToken?: (token: string) => Promise<Principal>;
  /** The caller of the request's session cookie, when it has one. */
  session?: (ctx: Koa.Context) => Principal | undefined;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Who may call with AUTH_DISABLED: everyone, as an operator. */
const ANYONE: Principal = { name: 'anyone (AUTH_DISABLED)', role: 'operator', via: 'disabled' };

/**
 * Puts the caller on `ctx.state.principal` and lets through what its role allows: a viewer reads,
 * an operator does everything. An `Authorization` header, when present, decides alone (a bad one is
 * refused even with a good session cookie beside it). `isOpen` names the paths served to anyone
 * (the spec's `security: []`: probes, signing in and out).
 */
export function authenticate(options: AuthOptions, isOpen: (path: string) => boolean, identifiers: Identifiers = {}): Koa.Middleware {
  async function callerOf(ctx: Koa.Context): Promise<Principal> {
    if (options.disabled) return ANYONE;
    const authorization = ctx.get('authorization');
    if (authorization) {
      const credential = /^Bearer +([^\s]+) *$/i.exec(authorization)?.[1];
      if (!credential) throw unauthorized('the Authorization header must be "Bearer <API key or access token>"', 'invalid_request');
      if (isApiKey(credential)) {
        const caller = await principalOfApiKey(credential);
        if (!caller) throw unauthorized('the API key is unknown or revoked', 'invalid_token');
        return caller;
      }
      if (!identifiers.accessToken) throw unauthorized('not an API key, and no OpenID Connect issuer is configured to accept access tokens', 'invalid_token');
      return identifiers.accessToken(credential);
    }
    const caller = identifiers.session?.(ctx);
    if (!caller) throw unauthorized('credentials are required: "Authorization: Bearer <API key or access token>", or a session (sign in at /auth/login)');
    // A cross-site form can send the cookie but cannot set a header; the admin UI sets this one on every call.
    if (!READS.has(ctx.method) && !ctx.get('x-requested-with')) {
      throw forbidden('a request signed in by the session cookie must carry the header X-Requested-With unless it only reads');
    }
    return caller;
  }

  return async (ctx, next) => {
    if (isOpen(ctx.path)) return next();
    const caller = await callerOf(ctx);
    if (!READS.has(ctx.method) && caller.role !== 'operator') {
      throw forbidden(`${caller.name} is a ${caller.role}: a viewer may only read`);
    }
    ctx.state.principal = caller;
    await next();
  };
}
