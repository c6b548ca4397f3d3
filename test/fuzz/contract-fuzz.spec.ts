import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { specPath } from '../../api/contract';
import { repoRoot } from '../../stack/repo-root';
import { schemathesisPath } from '../../stack/tools/venv';
import { useApi } from '../support/api';

const RUN_TIMEOUT_MS = 4 * 60_000;

/** Runs `command` from the repo root (where the config's paths start) and collects what it prints. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Killed when over time, so that a hung run fails the test and leaves no process behind.
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/**
 * Schemathesis against the real app (PostgreSQL and Temporal of the test stack, no worker): every
 * check it has, on the spec's examples, edge cases, random and stateful sequences of requests.
 * Seeded and bounded by test/fuzz/schemathesis.toml, so that it takes seconds and a failure comes back
 * on the next run.
 */
describe('the contract under fuzzing (schemathesis)', () => {
  const ctx = useApi();
  let schemathesis: string;

  before(async function () {
    this.timeout(5 * 60_000); // the first use installs it from PyPI
    schemathesis = await schemathesisPath();
  });

  it('finds no failure with every check enabled', async function () {
    this.timeout(RUN_TIMEOUT_MS + 10_000);
    const { code, output } = await run(schemathesis, [
      `--config-file=${path.join(__dirname, 'schemathesis.toml')}`,
      'run',
      specPath,
      `--url=${ctx.api.baseUrl}`,
      '--checks=all',
      '--no-color',
    ]);
    assert.equal(code, 0, `schemathesis found failures:\n${output}`);
  });
});
