import type Koa from 'koa';
import createSession from 'koa-session';
import { isRole, type Principal, type Role } from '../../domain/roles';
import type { OidcOptions } from './options';

/** The cookie's name; openapi.yaml's `session` security scheme names it too. */
const SESSION_COOKIE = 'mailings.session';

/** How long a sign-in lasts; the role is read again at the next sign-in. */
const SESSION_MAX_AGE_MS = 8 * 3600_000;

/** How long a browser may take at the provider between /auth/login and /auth/callback. */
const SIGN_IN_MAX_AGE_MS = 10 * 60_000;

/** A signed-in person, as kept in the cookie. */
interface SessionUser {
  name: string;
  role: Role;
  /** Sent back to the provider at sign-out (`id_token_hint`), so that it ends its session without asking. */
  idToken?: string;
}

/** A sign-in under way: what /auth/callback must see again (RFC 9700: state, nonce and PKCE verifier bound to the browser). */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  startedAt: number;
}

interface SessionData {
  user?: SessionUser;
  signIn?: PendingSignIn;
}

/**
 * The session lives in the cookie itself, signed with SESSION_SECRET (koa-session's `signed`, an
 * HMAC in a second cookie): nothing to store server-side, and a forged or edited cookie is ignored.
 * httpOnly (no script reads it), SameSite=Lax (not sent on cross-site writes, sent when the provider
 * sends the browser back), Secure when PUBLIC_URL is https.
 */
export function sessions(app: Koa, options: OidcOptions): Koa.Middleware {
  app.keys = [options.sessionSecret];
  return createSession(
    {
      key: SESSION_COOKIE,
      maxAge: SESSION_MAX_AGE_MS,
      httpOnly: true,
      signed: true,
      sameSite: 'lax',
      secure: options.publicUrl.startsWith('https:'),
      rolling: false,
      renew: false,
    },
    app,
  );
}

const dataOf = (ctx: Koa.Context) => ctx.session as SessionData | null | undefined;

/** The session's caller, when a person signed in with it. */
export function sessionPrincipal(ctx: Koa.Context): Principal | undefined {
  const user = dataOf(ctx)?.user;
  return user && isRole(user.role) ? { name: user.name, role: user.role, via: 'session' } : undefined;
}

export function startSignIn(ctx: Koa.Context, pending: Omit<PendingSignIn, 'startedAt'>): void {
  ctx.session!.signIn = { ...pending, startedAt: Date.now() };
}

/** The sign-in under way, taken out of the session (it serves once), unless it is too old. */
export function takeSignIn(ctx: Koa.Context): PendingSignIn | undefined {
  const data = dataOf(ctx);
  const pending = data?.signIn;
  if (data) delete data.signIn;
  return pending && Date.now() - pending.startedAt <= SIGN_IN_MAX_AGE_MS ? pending : undefined;
}

export function signIn(ctx: Koa.Context, user: SessionUser): void {
  ctx.session!.user = user;
}

/** Ends the session; answers the ID token to hand the provider. */
export function endSession(ctx: Koa.Context): { signedIn: boolean; idToken?: string } {
  const user = dataOf(ctx)?.user;
  ctx.session = null;
  return { signedIn: user !== undefined, idToken: user?.idToken };
}
