import { parseArgs } from 'node:util';
import { loadConfig, requireSetting } from '../../config';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord } from '../../domain/api-keys';
import { DomainError } from '../../domain/errors';
import { isRole } from '../../domain/roles';
import { connectDatabase } from '../../storage/database';

const USAGE = `usage: npm run -s api-key -- create --name NAME --role operator|viewer
       npm run -s api-key -- list
       npm run -s api-key -- revoke NAME|ID`;

const when = (date: Date | null) => (date ? date.toISOString() : '-');

function table(keys: ApiKeyRecord[]): string {
  const rows = [['id', 'name', 'role', 'created', 'last used', 'revoked'], ...keys.map((k) => [String(k.id), k.name, k.role, when(k.created_at), when(k.last_used_at), when(k.revoked_at)])];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

/** Creates, lists and revokes API keys. A new key goes to stdout alone (for `KEY=$(…)`), everything else to stderr. */
async function run(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { name: { type: 'string' }, role: { type: 'string' } } });
  const [command, target] = positionals;
  if (command === 'create' && values.name && values.role && isRole(values.role)) {
    const { key, record } = await createApiKey(values.name, values.role);
    console.error(`API key "${record.name}" (${record.role}, id ${record.id}) created. It is shown only now; keep it secret:`);
    console.log(key);
  } else if (command === 'list' && !target) {
    console.log(table(await listApiKeys()));
  } else if (command === 'revoke' && target) {
    const revoked = await revokeApiKey(target);
    console.error(`API key "${revoked.name}" (id ${revoked.id}) revoked; it no longer works.`);
  } else {
    throw new UsageError(USAGE);
  }
}

class UsageError extends Error {}

if (require.main === module) {
  const db = connectDatabase(requireSetting(loadConfig(), 'DATABASE_URL'), 1);
  run(process.argv.slice(2))
    .catch((error) => {
      console.error(error instanceof UsageError || error instanceof DomainError ? error.message : error);
      process.exitCode = error instanceof UsageError ? 2 : 1;
    })
    .finally(() => db.destroy());
}
