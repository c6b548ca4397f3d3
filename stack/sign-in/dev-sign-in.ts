/** The local stack's ways in: its operator API key and, without OIDC_ISSUER, the development identity provider. */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { publicUrl, type Config } from '../../config';
import { createApiKey, principalOfApiKey, revokeApiKey } from '../../domain/api-keys';
import { NotFoundError } from '../../domain/errors';
import { connectDatabase } from '../../storage/database';
import type { Parts } from '../process/parts';
import { startDevIdentityProvider } from './dev-identity-provider';

const API_KEY_NAME = 'dev-operator';

/**
 * The local stack's operator API key: the one kept in `dataDir` while the database still accepts it,
 * else a new one (replacing an older `dev-operator`), kept there for the next start (mode 0600).
 */
async function devOperatorKey(databaseUrl: string, dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'operator-api-key');
  const db = connectDatabase(databaseUrl, 1);
  try {
    const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (kept && (await principalOfApiKey(kept))?.role === 'operator') return kept;
    await revokeApiKey(API_KEY_NAME).catch((error) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
    const { key } = await createApiKey(API_KEY_NAME, 'operator');
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return key;
  } finally {
    await db.destroy();
  }
}

/** A secret kept in `dataDir` (mode 0600), made on first use: sessions then outlive a restart of the stack. */
async function keptSecret(file: string): Promise<string> {
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (kept) return kept;
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * The local stack's ways in: an operator API key, and, without OIDC_ISSUER, the development identity
 * provider with its two people. Answers the API's environment for them and the lines to print.
 */
export async function startDevSignIn(config: Config, dataDir: string, databaseUrl: string, parts: Parts): Promise<{ env: NodeJS.ProcessEnv; summary: string[] }> {
  await mkdir(dataDir, { recursive: true });
  const key = await devOperatorKey(databaseUrl, dataDir);
  const api = publicUrl(config);
  const summary = [
    `API key        ${key} (operator; kept in ${path.join(dataDir, 'operator-api-key')})`,
    `               curl -H 'Authorization: Bearer ${key}' ${api}/api/clients/`,
  ];
  if (config.OIDC_ISSUER) return { env: {}, summary: [...summary, `Sign-in        ${config.OIDC_ISSUER} (OIDC_ISSUER)`] };

  const idp = await startDevIdentityProvider({ port: config.OIDC_DEV_PORT, publicUrl: api });
  parts.add({ name: 'identity provider', stop: () => idp.stop() });
  const { operator, viewer } = idp.users;
  summary.push(
    `Sign-in        ${idp.issuer} (development identity provider, in memory)`,
    `               operator: ${operator.login} / ${operator.password}   viewer: ${viewer.login} / ${viewer.password}`,
  );
  return {
    env: {
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: idp.clientId,
      OIDC_CLIENT_SECRET: idp.clientSecret,
      OIDC_ROLE_CLAIM: idp.roleClaim,
      OIDC_OPERATOR_VALUES: 'operator',
      OIDC_VIEWER_VALUES: 'viewer',
      SESSION_SECRET: config.SESSION_SECRET ?? (await keptSecret(path.join(dataDir, 'session-secret'))),
      PUBLIC_URL: api,
    },
    summary,
  };
}
