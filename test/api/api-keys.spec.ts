import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createApiKey, revokeApiKey } from '../../domain/api-keys';
import { ConflictError } from '../../domain/errors';
import { repoRoot } from '../../stack/repo-root';
import { assertProblem, useApi } from '../support/api';
import { eventually } from '../support/eventually';
import { newApiKey } from '../support/auth';

/** `npm run api-key -- …` as a user runs it, against the test database. */
async function apiKeyCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'api/auth/api-key-cli.ts', ...args], { cwd: repoRoot, env: process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

describe('API keys', () => {
  const ctx = useApi();

  describe('npm run api-key', () => {
    it('creates a key and prints it once, alone on stdout, and the key works', async () => {
      const name = uniqueName('cli');
      const created = await apiKeyCli('create', '--name', name, '--role', 'operator');
      assert.equal(created.code, 0, created.stderr);
      const key = created.stdout.trim();
      assert.match(key, /^msk_[A-Za-z0-9_-]{43}$/);
      assert.match(created.stderr, /shown only now/);
      const res = await ctx.api.as(key).get('/auth/me');
      assert.deepEqual(res.body, { name, role: 'operator', via: 'api-key' });
    });

    it('lists keys by name and role without the keys themselves', async () => {
      const { key, name } = await newApiKey('viewer');
      const listed = await apiKeyCli('list');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`\\b${name}\\s+viewer\\b`));
      assert.doesNotMatch(listed.stdout, /msk_/);
      assert.ok(!listed.stdout.includes(key));
    });

    it('revokes a key by name, after which the key is refused', async () => {
      const { key, name } = await newApiKey('operator');
      assert.equal((await ctx.api.as(key).get('/api/clients/?limit=1')).status, 200);
      const revoked = await apiKeyCli('revoke', name);
      assert.equal(revoked.code, 0, revoked.stderr);
      const res = await ctx.api.as(key).get('/api/clients/?limit=1');
      assertProblem(res, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    });

    it('revokes a key by id', async () => {
      const { key, id } = await newApiKey('viewer');
      assert.equal((await apiKeyCli('revoke', String(id))).code, 0);
      assertProblem(await ctx.api.as(key).get('/auth/me'), 401);
    });

    it('refuses a role other than operator or viewer, with the usage', async () => {
      const res = await apiKeyCli('create', '--name', uniqueName('cli'), '--role', 'admin');
      assert.equal(res.code, 2);
      assert.match(res.stderr, /usage: npm run -s api-key -- create --name NAME --role operator\|viewer/);
    });

    it('says so when there is no such key to revoke', async () => {
      const res = await apiKeyCli('revoke', uniqueName('nobody'));
      assert.equal(res.code, 1);
      assert.match(res.stderr, /no unrevoked key named nobody-/);
    });
  });

  it('stores a hash of the key, never the key', async () => {
    const { key, id } = await newApiKey('operator');
    const row = await ctx.api.db('api_keys').where('id', id).first();
    assert.ok(!Object.values(row).some((value) => String(value).includes(key.slice(4))), 'a column holds the key');
    assert.match(row.hash, /^[0-9a-f]{64}$/);
  });

  it('refuses a second unrevoked key of the same name, and gives the name to a new key once the old one is revoked', async () => {
    const name = uniqueName('rotated');
    await createApiKey(name, 'operator');
    await assert.rejects(createApiKey(name, 'operator'), ConflictError);
    await revokeApiKey(name);
    const { key } = await createApiKey(name, 'viewer');
    assert.equal((await ctx.api.as(key).get('/auth/me')).body.role, 'viewer');
  });

  it('records when a key was last used', async () => {
    const { key, id } = await newApiKey('viewer');
    assert.equal((await ctx.api.db('api_keys').where('id', id).first()).last_used_at, null);
    await ctx.api.as(key).get('/api/');
    await eventually(async () => (await ctx.api.db('api_keys').where('id', id).first()).last_used_at ?? undefined, 5_000);
  });
});
