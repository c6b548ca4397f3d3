import { ConfigError } from '../../config';
import type { Logger } from '../../config/logger';
import { hasActiveApiKey } from '../../domain/api-keys';
import type { AuthOptions } from './options';

/**
 * A production API that nobody could call is a mistake, not a deployment: it needs an OpenID Connect
 * provider or at least one API key, unless AUTH_DISABLED says on purpose that everyone may call.
 */
export async function requireWayIn(options: AuthOptions, logger: Logger): Promise<void> {
  if (options.disabled) {
    logger.warn('AUTH_DISABLED=true: every caller is let in as an operator, without credentials');
    return;
  }
  if (options.oidc || (await hasActiveApiKey())) return;
  throw new ConfigError(
    'nobody could call this API: set OIDC_ISSUER (with OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, SESSION_SECRET), ' +
      'or create an API key (npm run api-key -- create --name NAME --role operator), ' +
      'or set AUTH_DISABLED=true to let everyone in',
  );
}
