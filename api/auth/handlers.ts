import type Koa from 'koa';
import type { Principal } from '../../domain/roles';
import { Problem } from '../problem';

const notConfigured = () => new Problem(404, 'Not found', 'signing in needs an OpenID Connect provider (OIDC_ISSUER); this API takes API keys only');

/** The auth operations of openapi.yaml, keyed by operationId. */
export function authHandlers() {
  return {
    getCaller: (_c: unknown, ctx: Koa.Context) => {
      const { name, role, via } = ctx.state.principal as Principal;
      ctx.body = { name, role, via };
    },
    signIn: () => {
      throw notConfigured();
    },
    completeSignIn: () => {
      throw notConfigured();
    },
    signOut: (_c: unknown, ctx: Koa.Context) => {
      ctx.body = { redirect: '/admin/' };
    },
  };
}
