import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal OpenID Connect issuer for access-token tests: its discovery document and its JWKS over
 * HTTP, and a signer of tokens with its key (or with a key it does not publish).
 */
export interface TokenIssuer {
  url: string;
  /** A token signed with this issuer's published key; `iss` is this issuer and `exp` an hour ahead unless given. */
  sign(claims: JWTPayload, options?: { key?: 'published' | 'unpublished'; alg?: string }): Promise<string>;
  stop(): Promise<void>;
}

export async function startTokenIssuer(): Promise<TokenIssuer> {
  const published = await generateKeyPair('RS256');
  const unpublished = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(published.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  let url = '';
  const server: Server = createServer((req, res) => {
    const documents: Record<string, unknown> = {
      '/.well-known/openid-configuration': {
        issuer: url,
        authorization_endpoint: `${url}/authorize`,
        token_endpoint: `${url}/token`,
        jwks_uri: `${url}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      },
      '/jwks': { keys: [jwk] },
    };
    const body = documents[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async sign(claims, { key = 'published', alg = 'RS256' } = {}) {
      const signingKey: CryptoKey = key === 'published' ? published.privateKey : unpublished.privateKey;
      return new SignJWT({ iss: url, exp: Math.floor(Date.now() / 1000) + 3600, iat: Math.floor(Date.now() / 1000), ...claims })
        .setProtectedHeader({ alg, kid: 'test-key', typ: 'at+jwt' })
        .sign(signingKey);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
