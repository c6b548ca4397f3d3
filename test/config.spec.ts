import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ConfigError, loadConfig, secretKeys } from '../config';
import { createLogger } from '../config/logger';

describe('the configuration', () => {
  for (const name of ['SEND_TIMEOUT_MS', 'SEND_RETRY_INITIAL_MS', 'SEND_RETRY_MAX_MS', 'SEND_OUTAGE_PAUSE_MS', 'SEND_OUTAGE_PAUSE_MAX_MS', 'MAILING_STOP_WAIT_MS']) {
    it(`refuses ${name} longer than a timer can wait (2^31 ms), naming it, and takes the longest one that can`, () => {
      assert.throws(() => loadConfig({ [name]: String(2 ** 31) }), (error: Error) => error instanceof ConfigError && error.message.includes(name));
      assert.equal(loadConfig({ [name]: String(2 ** 31 - 1) })[name as keyof ReturnType<typeof loadConfig>], 2 ** 31 - 1);
    });
  }

  it('logs every credential setting as [redacted], at the top of a line or inside an object', () => {
    const credentials = { DATABASE_URL: 'postgres://u:pw-db@h/d', TEMPORAL_API_KEY: 'key-t', SEND_API_TOKEN: 'token-s', SMTP_URL: 'smtp://u:pw-smtp@h', OIDC_CLIENT_SECRET: 'secret-o', SESSION_SECRET: 'x'.repeat(32) };
    assert.deepEqual([...secretKeys].sort(), Object.keys(credentials).sort());
    let written = '';
    const logger = createLogger('info', 'test', new Writable({
        write(chunk, _encoding, done) {
          written += chunk;
          done();
        },
      }),);
    logger.info({ ...credentials, config: credentials }, 'settings');
    const line = JSON.parse(written);
    for (const key of Object.keys(credentials)) {
      assert.equal(line[key], '[redacted]', key);
      assert.equal(line.config[key], '[redacted]', `config.${key}`);
    }
    for (const value of Object.values(credentials)) assert.ok(!written.includes(value));
  });
});
