import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../config';

describe('the configuration', () => {
  for (const name of ['SEND_TIMEOUT_MS', 'SEND_RETRY_INITIAL_MS', 'SEND_RETRY_MAX_MS', 'SEND_OUTAGE_PAUSE_MS', 'SEND_OUTAGE_PAUSE_MAX_MS', 'MAILING_STOP_WAIT_MS']) {
    it(`refuses ${name} longer than a timer can wait (2^31 ms), naming it, and takes the longest one that can`, () => {
      assert.throws(() => loadConfig({ [name]: String(2 ** 31) }), (error: Error) => error instanceof ConfigError && error.message.includes(name));
      assert.equal(loadConfig({ [name]: String(2 ** 31 - 1) })[name as keyof ReturnType<typeof loadConfig>], 2 ** 31 - 1);
    });
  }
});
