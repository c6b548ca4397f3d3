import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig, secretKeys } from '../config';
import { temporalConnectionOptions } from '../config/temporal';
import { testStack } from './support/stack';

/** TEMPORAL_TLS_* and TEMPORAL_API_KEY (config/temporal.ts): how the API and the worker reach a secured cluster. */
describe('Temporal connection settings', () => {
  let dir: string;
  const files: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'temporal-tls-'));
    for (const name of ['client.pem', 'client.key', 'ca.pem']) {
      files[name] = path.join(dir, name);
      await writeFile(files[name], `contents of ${name}`);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const options = (env: Record<string, string>) => temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal.example:7233', ...env }));

  it('connects in plain gRPC when nothing about TLS is set (the dev server, a cluster in the same network)', () => {
    assert.deepEqual(options({}), { address: 'temporal.example:7233', tls: false });
  });

  it('turns TLS on by itself for an API key (Temporal Cloud), and the key is a redacted secret', () => {
    assert.deepEqual(options({ TEMPORAL_API_KEY: 'key-1' }), { address: 'temporal.example:7233', apiKey: 'key-1', tls: true });
    assert.ok((secretKeys as readonly string[]).includes('TEMPORAL_API_KEY'));
  });

  it('uses TLS with the system CAs for TEMPORAL_TLS=true, and not at all for TEMPORAL_TLS=false', () => {
    assert.deepEqual(options({ TEMPORAL_TLS: 'true' }), { address: 'temporal.example:7233', tls: true });
    assert.deepEqual(options({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }), { address: 'temporal.example:7233', apiKey: 'k', tls: false });
  });

  it('reads the mTLS client pair, the server CA and the server name (Temporal Cloud mTLS, self-hosted TLS)', () => {
    const result = options({
      TEMPORAL_TLS_CLIENT_CERT_PATH: files['client.pem'],
      TEMPORAL_TLS_CLIENT_KEY_PATH: files['client.key'],
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files['ca.pem'],
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    assert.ok(result.tls && typeof result.tls === 'object');
    assert.equal(result.tls.serverNameOverride, 'temporal.internal');
    assert.equal(result.tls.serverRootCACertificate?.toString(), 'contents of ca.pem');
    assert.equal(result.tls.clientCertPair?.crt.toString(), 'contents of client.pem');
    assert.equal(result.tls.clientCertPair?.key.toString(), 'contents of client.key');
  });

  it('refuses a client certificate without its key, a contradicting TEMPORAL_TLS=false and an unreadable file, naming the setting', () => {
    assert.throws(() => options({ TEMPORAL_TLS_CLIENT_CERT_PATH: files['client.pem'] }), (e: Error) => e instanceof ConfigError && /TEMPORAL_TLS_CLIENT_KEY_PATH/.test(e.message));
    assert.throws(() => options({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_NAME: 'x' }), (e: Error) => e instanceof ConfigError && /TEMPORAL_TLS=false/.test(e.message));
    assert.throws(
      () => options({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing.pem') }),
      (e: Error) => e instanceof ConfigError && /TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*missing\.pem cannot be read/.test(e.message),
    );
    assert.throws(() => options({ TEMPORAL_TLS: 'maybe' }), /TEMPORAL_TLS/);
  });

  it('gives options both the client and the worker connection accept (an API key over plain gRPC to the dev server)', async () => {
    const settings = temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: testStack().temporalAddress, TEMPORAL_API_KEY: 'dev-key', TEMPORAL_TLS: 'false' }));
    const client = await Connection.connect(settings);
    const worker = await NativeConnection.connect(settings);
    try {
      const { namespaces } = await client.workflowService.listNamespaces({});
      assert.ok(namespaces.some((ns) => ns.namespaceInfo?.name === testStack().namespace));
    } finally {
      await Promise.all([client.close(), worker.close()]);
    }
  });
});
