import type Koa from 'koa';
import type { Logger } from '../../config/logger';
import { accessTokens } from './access-tokens';
import { authenticate } from './authenticate';
import { authHandlers } from './handlers';
import type { AuthOptions } from './options';
import { providerOf } from './provider';
import { sessionPrincipal, sessions } from './session';

export type { AuthOptions } from './options';

/**
 * The middleware that lets callers in (ahead of everything but logging and problems) and the /auth/
 * operations. With OpenID Connect, the app gets the session cookie's key and, behind an https
 * PUBLIC_URL, trusts the proxy's X-Forwarded-* headers (so that the Secure cookie can be set).
 */
export function createAuth(app: Koa, options: AuthOptions, isOpen: (path: string) => boolean, logger: Logger): { middleware: Koa.Middleware[]; handlers: ReturnType<typeof authHandlers> } {
  if (options.disabled || !options.oidc) return { middleware: [authenticate(options, isOpen)], handlers: authHandlers() };
  const oidc = options.oidc;
  const provider = providerOf(oidc, logger);
  if (oidc.publicUrl.startsWith('https:')) app.proxy = true;
  return {
    middleware: [sessions(app, oidc), authenticate(options, isOpen, { accessToken: accessTokens(oidc, provider), session: sessionPrincipal })],
    handlers: authHandlers({ options: oidc, provider }),
  };
}
