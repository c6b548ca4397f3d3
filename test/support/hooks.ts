import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestStack, stopTestStack } from './stack';

// Test output is mocha's report; the SDK speaks only of errors.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
});

/**
 * Mocha root hooks (`require: test/support/hooks.ts`): one Postgres and one Temporal dev server
 * for the whole run. In parallel mode mocha runs these once per worker, i.e. per file.
 */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    // initdb, the first pip install of the Temporal CLI and a busy CI machine add up.
    this.timeout(180_000);
    await startTestStack();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestStack();
  },
};
