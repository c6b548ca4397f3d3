import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = path.join(__dirname, 'histories');

describe('workflow determinism', function () {
  this.timeout(120_000);

  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('has recorded histories to replay', () => {
    assert.ok(files.length >= 3, 'record histories with: temporal workflow show -w mailing-<id> -o json > test/histories/<name>.json');
  });

  for (const file of files) {
    it(`replays the recorded history ${file} without non-determinism`, async () => {
      const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows') }, history, file);
    });
  }
});
