import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createApiKey, principalOfApiKey, revokeApiKey } from '../domain/api-keys';
import { NotFoundError } from '../domain/errors';
import { connectDatabase } from '../storage/database';

const NAME = 'dev-operator';

/**
 * The local stack's operator API key: the one kept in `dataDir` while the database still accepts it,
 * else a new one (replacing an older `dev-operator`), kept there for the next start (mode 0600).
 */
export async function devOperatorKey(databaseUrl: string, dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'operator-api-key');
  const db = connectDatabase(databaseUrl, 1);
  try {
    const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (kept && (await principalOfApiKey(kept))?.role === 'operator') return kept;
    await revokeApiKey(NAME).catch((error) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
    const { key } = await createApiKey(NAME, 'operator');
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return key;
  } finally {
    await db.destroy();
  }
}
