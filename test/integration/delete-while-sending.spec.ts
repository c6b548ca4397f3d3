import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FakeProvider, startFakeProvider } from '../../stack/fake-provider';
import { uniqueTag, useApi } from '../support/api';
import { eventually } from '../support/eventually';
import { WorkerProcess } from '../support/worker-process';
import { createMailing, seedAudience } from '../faults/support';

const MAILINGS = 20;
const AUDIENCE = 5_000;

describe('deleting mailings while their batches write outcomes at full speed', function () {
  this.timeout(300_000);
  const taskQueue = `delete-race-${randomUUID().slice(0, 8)}`;
  const ctx = useApi({ taskQueue });
  let provider: FakeProvider;
  let worker: WorkerProcess;

  before(async () => {
    provider = await startFakeProvider({ seed: 14 });
    worker = new WorkerProcess({
      TEMPORAL_TASK_QUEUE: taskQueue,
      SEND_API_URL: provider.url,
      SEND_API_TOKEN: 'test-token',
      SEND_CONCURRENCY: '64',
      SEND_BATCH_SIZE: '500',
      SEND_PARALLEL_BATCHES: '4',
    });
    await worker.start();
  });
  after(async () => {
    await worker?.kill();
    await provider?.stop();
  });

  it(`answers 204 to each of ${MAILINGS} deletes, leaves nothing pending and sends nothing after any answer`, async () => {
    const tag = uniqueTag('delete-race');
    await seedAudience(ctx.api, tag, AUDIENCE);
    const deadlocksBefore = await deadlocks();
    const deleted: { id: number; answeredAt: number }[] = [];

    for (let i = 0; i < MAILINGS; i++) {
      const { id } = await createMailing(ctx.api, tag);
      // Deleted once outcomes are being written, while most of the audience is still pending.
      await eventually(async () => ((await sentCount(id)) >= 100 ? true : undefined), 60_000);
      const res = await ctx.api.delete(`/api/mailings/${id}/`);
      assert.equal(res.status, 204, res.text);
      deleted.push({ id, answeredAt: Date.now() });
    }

    const ids = deleted.map((d) => d.id);
    const pending = await ctx.api.db('messages').whereIn('mailing_id', ids).where({ status: 'pending' }).count('* as n').first();
    assert.equal(Number(pending!.n), 0);
    const lateRequests = [];
    for (const { id, answeredAt } of deleted) {
      const messageIds = new Set((await ctx.api.db('messages').where({ mailing_id: id }).pluck('id')).map(Number));
      lateRequests.push(...provider.received().filter((r) => messageIds.has(r.msgId) && r.at >= answeredAt));
    }
    assert.deepEqual(lateRequests, []);
    const cancelled = await ctx.api.db('messages').whereIn('mailing_id', ids).where({ status: 'cancelled' }).count('* as n').first();
    assert.ok(Number(cancelled!.n) > 0, 'the deletes stopped sending mid-way');
    // Writers lock message rows in one order: PostgreSQL never had to break a deadlock.
    assert.equal(await deadlocks(), deadlocksBefore);
  });

  async function sentCount(mailingId: number): Promise<number> {
    const row = await ctx.api.db('messages').where({ mailing_id: mailingId, status: 'sent' }).count('* as n').first();
    return Number(row!.n);
  }

  async function deadlocks(): Promise<number> {
    const { rows } = await ctx.api.db.raw('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0].deadlocks);
  }
});
