import { loadConfig } from '../../config';
import { deployTools } from '../deploy/tools';
import { temporalCliPath, temporalTestServerPath } from '../temporal/cli';
import { CHROMIUM, PROMETHEUS, PROMTOOL, systemProgram } from './system-programs';
import { schemathesisPath } from './venv';

/**
 * `npm run setup`: fetches the Temporal CLI, its test server, schemathesis and the deployment files'
 * validators (hadolint, check-jsonschema, kubernetes-validate, kustomize) now rather than on first use,
 * and the system programs the tests drive (Chromium, Prometheus) from Debian when they are missing.
 */
async function main() {
  const config = loadConfig();
  // One after the other: all install into the same venv under one lock.
  console.log(`temporal CLI:         ${await temporalCliPath(config)}`);
  console.log(`temporal test server: ${await temporalTestServerPath(config)}`);
  console.log(`schemathesis:         ${await schemathesisPath()}`);
  for (const [tool, binary] of Object.entries(await deployTools())) console.log(`${`${tool}:`.padEnd(22)}${binary}`);
  for (const program of [CHROMIUM, PROMETHEUS, PROMTOOL]) console.log(`${`${program.binary}:`.padEnd(22)}${await systemProgram(program)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
