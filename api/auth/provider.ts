import * as oidc from 'openid-client';
import type { Logger } from '../../config/logger';
import { Problem } from '../problem';
import type { OidcOptions } from './options';

const DISCOVERY_TIMEOUT_SECONDS = 10;

/**
 * The OpenID Connect provider as discovered from its issuer URL. Discovered on first use and kept;
 * a failed discovery is forgotten so that the next request tries again (the API may start before
 * its provider does). An `http:` issuer (a development provider) is allowed because it is configured.
 */
export function providerOf(options: OidcOptions, logger: Logger): () => Promise<oidc.Configuration> {
  let discovered: Promise<oidc.Configuration> | undefined;
  return () => {
    discovered ??= oidc
      .discovery(new URL(options.issuer), options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
        timeout: DISCOVERY_TIMEOUT_SECONDS,
        execute: options.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        logger.warn({ err: error, issuer: options.issuer }, 'OpenID Connect discovery failed');
        discovered = undefined;
        throw providerUnavailable(error);
      });
    return discovered;
  };
}

export function providerUnavailable(error: unknown): Problem {
  return Object.assign(new Problem(503, 'Service unavailable', 'the identity provider cannot be reached; retry later'), { cause: error });
}
