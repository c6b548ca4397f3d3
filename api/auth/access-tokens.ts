import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Configuration } from 'openid-client';
import type { Principal } from '../../domain/roles';
import type { OidcOptions } from './options';
import { providerUnavailable } from './provider';
import { forbidden, unauthorized } from './refusals';
import { nameOf, roleOf } from './role-claim';

/** Signatures of the provider's keys; never `none` nor a shared secret. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 5;

/** Why a token was refused, in words for the 401's detail. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'it was issued by another issuer';
    if (error.claim === 'aud') return 'it is not meant for this API (aud)';
    return `its ${error.claim} claim is not acceptable (${error.reason})`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) return "its signature does not verify with the issuer's keys";
  if (error instanceof errors.JOSEAlgNotAllowed) return 'it is signed with an algorithm this API does not accept';
  return 'it is not a well-formed JWT';
}

/**
 * Verifies an access token (a JWT) against the issuer's published keys (JWKS, fetched and cached by
 * jose, refetched when a new key id appears): signature, issuer, audience, expiry. Its role comes
 * from the role claim as for a session.
 */
export function accessTokens(options: OidcOptions, provider: () => Promise<Configuration>): (token: string) => Promise<Principal> {
  let keys: JWTVerifyGetKey | undefined;
  return async (token) => {
    const metadata = (await provider()).serverMetadata();
    keys ??= createRemoteJWKSet(new URL(metadata.jwks_uri!));
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: metadata.issuer,
        audience: options.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      // Not the token's fault: the keys could not be fetched.
      if (!(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) throw providerUnavailable(error);
      throw unauthorized(`the access token was refused: ${reasonOf(error)}`, 'invalid_token');
    }
    const role = roleOf(claims, options);
    if (!role) throw forbidden(`${nameOf(claims)} has no role here: the token's ${options.roleClaim} claim names no operator or viewer value`);
    return { name: nameOf(claims), role, via: 'token' };
  };
}
