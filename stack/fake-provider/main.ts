import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { startFakeProvider } from './server';

/**
 * The fake provider as its own process: `node --import tsx stack/fake-provider/main.ts`. Listens on
 * FAKE_PROVIDER_PORT; checks the bearer only when SEND_API_TOKEN is set.
 */
async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'fake-provider');
  const provider = await startFakeProvider({ port: config.FAKE_PROVIDER_PORT, token: config.SEND_API_TOKEN, logger });
  logger.info({ url: provider.url }, 'fake provider listening');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void provider.stop().then(() => process.exit(0)));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
