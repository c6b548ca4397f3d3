import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config';
import { temporalTestServerPath } from '../../stack/temporal/cli';

/**
 * The SDK (1.24) waits a fixed 5 s for the test server's port, with no option to change it. The
 * server needs ~0.3 s, but a loaded two-core machine can miss the window, so a miss is retried.
 */
const ATTEMPTS = 3;

/**
 * A time-skipping Temporal test environment on the test server from `.venv` (or PATH /
 * TEMPORAL_TEST_SERVER_PATH), so the SDK never downloads one. Call `teardown()` when done.
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const path = await temporalTestServerPath(loadConfig());
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
    } catch (error) {
      if (attempt === ATTEMPTS || !/did not start within/.test(String(error))) throw error;
    }
  }
}
