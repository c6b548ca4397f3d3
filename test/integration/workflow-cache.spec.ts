import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FakeProvider, startFakeProvider } from '../../stack/fake-provider';
import { freePort } from '../../stack/process/ports';
import { uniqueTag, useApi } from '../support/api';
import { WorkerProcess } from '../support/worker-process';
import { seedAudience, settled } from '../faults/support';

// More than the 10 workflows the SDK would cache by itself under the worker's capped heap.
const MAILINGS = 30;
const AUDIENCE = 100;

/** The sum of a counter's series in Prometheus text; 0 when it has none (the SDK reports a counter once it moves). */
function counter(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('the worker workflow cache (WORKER_CACHED_WORKFLOWS)', function () {
  this.timeout(300_000);
  const taskQueue = `cache-${randomUUID().slice(0, 8)}`;
  const ctx = useApi({ taskQueue });
  let provider: FakeProvider;
  let worker: WorkerProcess;
  let sdkMetricsPort: number;

  before(async () => {
    provider = await startFakeProvider({ seed: 30 });
    // Answers slow enough, and batches small enough, that every mailing has workflow tasks while the others do.
    provider.setFaults({ latencyMs: 100 });
    sdkMetricsPort = await freePort();
    // The production entry point, with its capped heap and the default cache size.
    worker = new WorkerProcess({
      TEMPORAL_TASK_QUEUE: taskQueue,
      SEND_API_URL: provider.url,
      SEND_API_TOKEN: 'test-token',
      SEND_BATCH_SIZE: '20',
      HOST: '127.0.0.1',
      SDK_METRICS_PORT: String(sdkMetricsPort),
    });
    await worker.start();
  });
  after(async () => {
    await worker?.kill();
    await provider?.stop();
  });

  it(`keeps ${MAILINGS} mailings starting together in memory: none is evicted and replayed from its history`, async () => {
    const tag = uniqueTag('cache');
    await seedAudience(ctx.api, tag, AUDIENCE);
    const startAt = new Date(Date.now() + 5_000).toISOString();
    const endAt = new Date(Date.now() + 3_600_000).toISOString();
    const ids: number[] = [];
    for (let i = 0; i < MAILINGS; i++) {
      const res = await ctx.api.post('/api/mailings/', { start_at: startAt, end_at: endAt, text: `cache ${i}`, filter: { tag } });
      assert.equal(res.status, 201, res.text);
      ids.push(res.body.id);
    }
    for (const id of ids) assert.equal(await settled(ctx.api, id, 120_000), 'finished');

    const metrics = await (await fetch(`http://127.0.0.1:${sdkMetricsPort}/metrics`)).text();
    // Each workflow task found its workflow in the cache: none had to fetch and replay a history.
    assert.ok(counter(metrics, 'temporal_sticky_cache_hit') > MAILINGS * 4, `cache hits: ${counter(metrics, 'temporal_sticky_cache_hit')}`);
    assert.equal(counter(metrics, 'temporal_sticky_cache_total_forced_eviction'), 0);
    assert.equal(counter(metrics, 'temporal_sticky_cache_miss'), 0);
  });
});
