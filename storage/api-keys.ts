import { Model } from 'objection';

export interface ApiKeyRecord {
  id: number;
  name: string;
  role: string;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

class ApiKeyRow extends Model {
  static tableName = 'api_keys';
  id!: number;
  name!: string;
  role!: string;
  hash!: string;
  created_at!: Date;
  revoked_at!: Date | null;
  last_used_at!: Date | null;
}

const columns = ['id', 'name', 'role', 'created_at', 'revoked_at', 'last_used_at'];

// bigint ids come back from pg as strings.
const toRecord = (row: ApiKeyRow): ApiKeyRecord => ({
  id: Number(row.id),
  name: row.name,
  role: row.role,
  created_at: row.created_at,
  revoked_at: row.revoked_at,
  last_used_at: row.last_used_at,
});

export const API_KEY_NAME_UNIQUE = 'api_keys_name_active';

export async function insertApiKey(fields: { name: string; role: string; hash: string }): Promise<ApiKeyRecord> {
  return toRecord(await ApiKeyRow.query().insert(fields).returning(columns));
}

export async function listApiKeys(): Promise<ApiKeyRecord[]> {
  return (await ApiKeyRow.query().select(columns).orderBy('id')).map(toRecord);
}

/** Revokes the unrevoked key of that name, or of that id when `nameOrId` is a number; answers the revoked keys. */
export async function revokeApiKey(nameOrId: string): Promise<ApiKeyRecord[]> {
  const rows = await ApiKeyRow.query()
    .patch({ revoked_at: ApiKeyRow.fn.now() as unknown as Date })
    .whereNull('revoked_at')
    .where((q) => {
      q.where('name', nameOrId);
      if (/^[0-9]{1,18}$/.test(nameOrId)) q.orWhere('id', nameOrId);
    })
    .returning(columns);
  return (rows as unknown as ApiKeyRow[]).map(toRecord);
}

/** The unrevoked key with that hash (by its unique index). */
export async function findActiveApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
  const row = await ApiKeyRow.query().select(columns).findOne({ hash }).whereNull('revoked_at');
  return row && toRecord(row);
}

export async function countActiveApiKeys(): Promise<number> {
  const [{ count }] = (await ApiKeyRow.query().whereNull('revoked_at').count('* as count')) as unknown as { count: string }[];
  return Number(count);
}

/** Records a use, unless one was recorded in the last `everyMs` (another API instance may have just done it). */
export async function noteApiKeyUse(id: number, everyMs: number): Promise<void> {
  await ApiKeyRow.query()
    .patch({ last_used_at: ApiKeyRow.fn.now() as unknown as Date })
    .where('id', id)
    .where((q) => q.whereNull('last_used_at').orWhere('last_used_at', '<', ApiKeyRow.raw('now() - make_interval(secs => ?)', [everyMs / 1000])));
}
