import { publicUrl, type Config } from '../../config';

/** How operators sign in with OpenID Connect; from the OIDC_* settings. */
export interface OidcOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The `aud` an access token must name to be accepted here. */
  audience: string;
  /** The claim (a dotted path into the token's claims, e.g. `realm_access.roles`) that carries the role. */
  roleClaim: string;
  /** Values of that claim that make an operator, or a viewer (an operator value wins). */
  operatorValues: string[];
  viewerValues: string[];
  /** Signs the session cookie. */
  sessionSecret: string;
  /** Where browsers reach the API: the redirect URIs are made from it; https makes the cookie Secure. */
  publicUrl: string;
}

/**
 * Who may call the API. API keys always work; `oidc` adds the admin UI's session and access tokens.
 * `disabled` lets every caller in as an operator (AUTH_DISABLED, for trusted networks and tools only).
 */
export type AuthOptions = { disabled: true } | { disabled?: false; oidc?: OidcOptions };

const list = (value: string) => value.split(',').map((v) => v.trim()).filter(Boolean);

export function authOptions(config: Config): AuthOptions {
  if (config.AUTH_DISABLED) return { disabled: true };
  if (!config.OIDC_ISSUER) return {};
  // loadConfig() refuses an issuer without client id, secret and session secret.
  return {
    oidc: {
      issuer: config.OIDC_ISSUER,
      clientId: config.OIDC_CLIENT_ID!,
      clientSecret: config.OIDC_CLIENT_SECRET!,
      audience: config.OIDC_AUDIENCE ?? config.OIDC_CLIENT_ID!,
      roleClaim: config.OIDC_ROLE_CLAIM,
      operatorValues: list(config.OIDC_OPERATOR_VALUES),
      viewerValues: list(config.OIDC_VIEWER_VALUES),
      sessionSecret: config.SESSION_SECRET!,
      publicUrl: publicUrl(config),
    },
  };
}
