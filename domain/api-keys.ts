import { createHash, randomBytes } from 'node:crypto';
import { isUniqueViolation } from '../storage/database';
import * as store from '../storage/api-keys';
import type { ApiKeyRecord } from '../storage/api-keys';
import { ConflictError, InvalidInputError, NotFoundError } from './errors';
import { isRole, type Principal, type Role } from './roles';

export type { ApiKeyRecord };

/** Every key starts with this, so a bearer credential is told apart from a JWT without parsing it. */
const API_KEY_PREFIX = 'msk_';

export const isApiKey = (credential: string) => credential.startsWith(API_KEY_PREFIX);

const USE_NOTED_EVERY_MS = 60_000;

/** SHA-256 of the whole key: keys are 256 random bits, so a slow password hash would add nothing. */
const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');

/** A new key with that name and role; the key itself is in the answer only, never stored. */
export async function createApiKey(name: string, role: Role): Promise<{ key: string; record: ApiKeyRecord }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new InvalidInputError('a key name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit', 'name');
  }
  if (!isRole(role)) throw new InvalidInputError(`a role is viewer or operator, not ${role}`, 'role');
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  try {
    return { key, record: await store.insertApiKey({ name, role, hash: hashOf(key) }) };
  } catch (error) {
    if (isUniqueViolation(error, store.API_KEY_NAME_UNIQUE)) throw new ConflictError(`a key named ${name} exists already`, 'name');
    throw error;
  }
}

export const listApiKeys = store.listApiKeys;

/** Revokes a key by name or id; the key stops working at once. */
export async function revokeApiKey(nameOrId: string): Promise<ApiKeyRecord> {
  const [revoked] = await store.revokeApiKey(nameOrId);
  if (!revoked) throw new NotFoundError(`no unrevoked key named ${nameOrId}`);
  return revoked;
}

/** The caller a key stands for, or undefined for a key that is unknown or revoked. */
export async function principalOfApiKey(key: string): Promise<Principal | undefined> {
  const record = await store.findActiveApiKey(hashOf(key));
  if (!record || !isRole(record.role)) return undefined;
  // Bookkeeping, at most once a minute per key (no write per request); a failed write must not refuse the request.
  if (!record.last_used_at || Date.now() - record.last_used_at.getTime() > USE_NOTED_EVERY_MS) {
    void store.noteApiKeyUse(record.id, USE_NOTED_EVERY_MS).catch(() => undefined);
  }
  return { name: record.name, role: record.role, via: 'api-key' };
}

export async function hasActiveApiKey(): Promise<boolean> {
  return (await store.countActiveApiKeys()) > 0;
}
