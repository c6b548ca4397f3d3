import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { authOptions } from '../../api/auth/options';
import { ConfigError, loadConfig } from '../../config';
import { freePort } from '../../stack/process/ports';
import { repoRoot } from '../../stack/repo-root';
import { createOwnDatabase, type OwnDatabase } from '../support/own-database';
import { testStack } from '../support/stack';

/** `npm run api` as production runs it, on a free port; its output is collected. */
function startApi(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, TEMPORAL_ADDRESS: testStack().temporalAddress, TEMPORAL_NAMESPACE: testStack().namespace, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => output.includes('"API listening"') && resolve());
    void exited.then(([code]) => reject(new Error(`the API exited with ${code}:\n${output}`)));
  });
  return { child, exited, listening, output: () => output };
}

/**
 * `npm run api` on a database of its own (no API key in it but those the test makes), so that keys
 * made by other tests cannot let it start.
 */
describe('the production API at start', () => {
  let database: OwnDatabase;
  let databaseUrl: string;
  const children: ChildProcess[] = [];

  before(async function () {
    this.timeout(60_000);
    database = await createOwnDatabase('auth_startup');
    databaseUrl = database.url;
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  after(async () => {
    await database?.drop();
  });

  it('refuses to start when no OpenID Connect issuer is configured and no API key exists, saying what would let callers in', async () => {
    const api = startApi({ DATABASE_URL: databaseUrl, PORT: String(await freePort()) });
    children.push(api.child);
    const [code] = await api.exited;
    assert.equal(code, 1, api.output());
    assert.match(api.output(), /nobody could call this API: set OIDC_ISSUER .* or create an API key .* or set AUTH_DISABLED=true/);
  });

  it('starts with AUTH_DISABLED=true, warning that everyone is let in, and lets an anonymous caller write', async () => {
    const port = await freePort();
    const api = startApi({ DATABASE_URL: databaseUrl, PORT: String(port), AUTH_DISABLED: 'true' });
    children.push(api.child);
    await api.listening;
    assert.match(api.output(), /"level":40,.*"msg":"AUTH_DISABLED=true: every caller is let in as an operator, without credentials"/);
    const res = await fetch(`http://127.0.0.1:${port}/api/mailings/preview/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"filter":{}}' });
    assert.equal(res.status, 200, await res.text());
  });

  it('starts with an OpenID Connect issuer and no API key, before the issuer can be reached (it is discovered on first use)', async () => {
    const port = await freePort();
    const api = startApi({
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      OIDC_ISSUER: `http://127.0.0.1:${await freePort()}`,
      OIDC_CLIENT_ID: 'mailing-service',
      OIDC_CLIENT_SECRET: 'secret',
      SESSION_SECRET: 'x'.repeat(32),
    });
    children.push(api.child);
    await api.listening;
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/clients/`)).status, 401);
    const login = await fetch(`http://127.0.0.1:${port}/auth/login`, { redirect: 'manual' });
    assert.equal(login.status, 503);
    assert.doesNotMatch(api.output(), /SESSION_SECRET|"secret"/);
  });

  it('starts once an API key exists, and answers 401 without it and 200 with it', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', 'api/auth/api-key-cli.ts', 'create', '--name', 'first', '--role', 'operator'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let key = '';
    cli.stdout!.on('data', (chunk) => (key += chunk));
    assert.deepEqual(await once(cli, 'exit'), [0, null]);
    const port = await freePort();
    const api = startApi({ DATABASE_URL: databaseUrl, PORT: String(port) });
    children.push(api.child);
    await api.listening;
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/clients/`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/clients/`, { headers: { authorization: `Bearer ${key.trim()}` } })).status, 200);
  });
});

describe('sign-in settings', () => {
  const issuer = { OIDC_ISSUER: 'https://sso.example.com/realms/ops' };

  it('refuses an issuer without the client id, client secret and session secret, naming them', () => {
    assert.throws(() => loadConfig(issuer), (error: Error) => error instanceof ConfigError && /OIDC_CLIENT_ID/.test(error.message));
    assert.throws(() => loadConfig({ ...issuer, OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's' }), /SESSION_SECRET/);
  });

  it('refuses a session secret shorter than 32 characters', () => {
    assert.throws(() => loadConfig({ ...issuer, OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', SESSION_SECRET: 'short' }), /SESSION_SECRET must NOT have fewer than 32 characters/);
  });

  it('refuses a PUBLIC_URL with a path', () => {
    assert.throws(() => loadConfig({ PUBLIC_URL: 'https://mailings.example.com/app' }), /PUBLIC_URL/);
  });

  it('reads the role values as comma-separated lists, and the audience as the client id unless given', () => {
    const options = authOptions(loadConfig({ ...issuer, OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', SESSION_SECRET: 'x'.repeat(32), OIDC_OPERATOR_VALUES: 'ops, admins', PORT: '9000' }));
    assert.ok(!options.disabled && options.oidc);
    assert.deepEqual(options.oidc.operatorValues, ['ops', 'admins']);
    assert.deepEqual(options.oidc.viewerValues, ['viewer']);
    assert.equal(options.oidc.audience, 'c');
    assert.equal(options.oidc.publicUrl, 'http://localhost:9000');
  });

  it('lets AUTH_DISABLED win over everything else', () => {
    assert.deepEqual(authOptions(loadConfig({ AUTH_DISABLED: 'true' })), { disabled: true });
  });
});
