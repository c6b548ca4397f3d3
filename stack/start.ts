import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { Parts } from './process/parts';
import { listenForStopSignals, runMain, StopRequested } from './process/script';
import { startAll } from './start-all';

/**
 * `npm start`. Runs until Ctrl-C / SIGTERM (exit 0) or until any part dies on its own (exit 1);
 * either way everything started is stopped, in reverse order.
 */
async function main(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'stack');
  const signals = listenForStopSignals(logger);
  const parts = new Parts(logger);
  try {
    await startAll(config, logger, parts, signals);
    const died = await Promise.race([signals.received.then(() => undefined), parts.firstExit()]);
    if (!died) return 0;
    logger.error(died.status, `${died.name} exited unexpectedly; stopping everything`);
    return 1;
  } catch (error) {
    if (error instanceof StopRequested) return 0;
    logger.fatal({ err: error }, 'start-up failed');
    return 1;
  } finally {
    await parts.stopAll();
  }
}

runMain(main);
