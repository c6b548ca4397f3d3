import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadConfig, sendLimits } from '../../config';
import { createLogger } from '../../config/logger';
import { createMailingService } from '../../domain/mailings';
import { startFakeProvider, FakeProvider } from '../../stack/fake-provider';
import { isoIn, randomPhone, uniqueTag, useApi } from '../support/api';
import { eventually } from '../support/eventually';
import { RunningWorker, startWorker } from '../support/worker';

const SECOND = 1000;


describe('mailing delivery on the real stack', function () {
  this.timeout(90_000);
  const taskQueue = `delivery-${randomUUID().slice(0, 8)}`;
  const ctx = useApi({ taskQueue });
  let provider: FakeProvider;
  let worker: RunningWorker;

  before(async () => {
    // reconcile() restarts every open mailing. Those earlier spec files left open (their workflows on
    // task queues no worker polls) would all be sent by this spec's worker, and slow it past its timeouts.
    await ctx.api.db('mailings').whereIn('status', ['scheduled', 'running', 'paused']).update({ status: 'cancelled', deleted_at: new Date() });
    provider = await startFakeProvider({ seed: 1 });
    worker = await startWorker({ taskQueue, providerUrl: provider.url, mailings: ctx.mailings });
  });
  after(async () => {
    await worker?.stop();
    await provider?.stop();
  });
  beforeEach(() => provider.reset());

  async function createClients(count: number, tag: string, timezone = 'Europe/Moscow'): Promise<{ id: number; phone_number: string }[]> {
    const created = [];
    for (let i = 0; i < count; i++) {
      const res = await ctx.api.post('/api/clients/', { phone_number: randomPhone(), timezone, tag });
      assert.equal(res.status, 201);
      created.push(res.body);
    }
    return created;
  }

  async function createMailing(body: object): Promise<number> {
    const res = await ctx.api.post('/api/mailings/', body);
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  const statusOf = async (id: number) => (await ctx.api.get(`/api/mailings/${id}/`)).body.status as string;
  const settled = (id: number, timeoutMs?: number) =>
    eventually(async () => {
      const status = await statusOf(id);
      return status === 'finished' || status === 'expired' ? status : undefined;
    }, timeoutMs);

  async function messagesOf(mailingId: number) {
    const res = await ctx.api.get(`/api/messages/?mailing_id=${mailingId}&limit=1000`);
    return res.body.items as { id: number; client_id: number; status: string; sent_at: string | null }[];
  }

  it('sends every matching client exactly one request with its phone and the text, starting by itself', async () => {
    const tag = uniqueTag();
    const audience = await createClients(12, tag);
    await createClients(3, uniqueTag('other'));
    const id = await createMailing({ start_at: isoIn(2 * SECOND), end_at: isoIn(3_600 * SECOND), text: 'Hello from the test', filter: { tag } });
    assert.equal(await statusOf(id), 'scheduled');

    assert.equal(await settled(id), 'finished');
    const received = provider.received();
    const messageIds = new Set((await messagesOf(id)).map((m) => m.id));
    assert.equal(received.length, audience.length);
    assert.equal(new Set(received.map((r) => r.msgId)).size, audience.length);
    assert.deepEqual(new Set(received.map((r) => String(r.phone))), new Set(audience.map((c) => c.phone_number)));
    assert.ok(received.every((r) => r.text === 'Hello from the test' && messageIds.has(r.msgId)));
  });

  it('reports statistics that match what the provider received', async () => {
    const tag = uniqueTag();
    await createClients(7, tag);
    const id = await createMailing({ start_at: isoIn(-60 * SECOND), end_at: isoIn(3_600 * SECOND), text: 'stats', filter: { tag: [tag] } });
    await settled(id);

    const info = (await ctx.api.get(`/api/mailings/${id}/info/`)).body;
    assert.deepEqual(info.counts, { pending: 0, sent: 7, failed: 0, expired: 0, cancelled: 0 });
    assert.equal(provider.received().length, 7);
    assert.ok(Date.parse(info.first_sent_at) <= Date.parse(info.last_sent_at));

    const summary = (await ctx.api.get('/api/mailings/fullinfo/?limit=1000')).body;
    const row = summary.items.find((item: { mailing: { id: number } }) => item.mailing.id === id);
    assert.deepEqual(row.counts, info.counts);
    assert.ok(summary.totals.sent >= 7);
  });

  it('starts at once when created with a start in the past and an end in the future', async () => {
    const tag = uniqueTag();
    await createClients(2, tag);
    const created = Date.now();
    const id = await createMailing({ start_at: isoIn(-3_600 * SECOND), end_at: isoIn(3_600 * SECOND), text: 'late start', filter: { tag } });
    await settled(id);
    const firstRequest = Math.min(...provider.received().map((r) => r.at));
    assert.ok(firstRequest - created < 10 * SECOND, `first request ${firstRequest - created} ms after creation`);
  });

  it('delivers nothing after the end time and expires what was left', async () => {
    const tag = uniqueTag();
    // 16 requests in flight at a time, each taking 1.2 s: the second wave is still in flight at the end.
    await createClients(40, tag);
    provider.setFaults({ latencyMs: 1200 });
    const endAt = Date.now() + 2 * SECOND;
    const id = await createMailing({ start_at: isoIn(0), end_at: new Date(endAt).toISOString(), text: 'short window', filter: { tag } });

    assert.equal(await settled(id), 'expired');
    const messages = await messagesOf(id);
    assert.ok(provider.received().every((r) => r.at < endAt), 'a request reached the provider after end_at');
    assert.ok(messages.some((m) => m.status === 'expired'));
    assert.ok(messages.every((m) => m.status === 'sent' || m.status === 'expired'));
    assert.ok(messages.filter((m) => m.sent_at).every((m) => Date.parse(m.sent_at!) <= endAt + SECOND));
  });

  it('stops sending once a running mailing is deleted, keeping the sent messages for audit', async () => {
    const tag = uniqueTag();
    await createClients(60, tag);
    provider.setFaults({ latencyMs: 300 });
    const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'to be deleted', filter: { tag } });
    await eventually(async () => (provider.received().length > 0 ? true : undefined));

    assert.equal((await ctx.api.delete(`/api/mailings/${id}/`)).status, 204);
    const receivedAtDelete = provider.received().length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(provider.received().length, receivedAtDelete);

    const messages = await messagesOf(id);
    assert.ok(messages.some((m) => m.status === 'sent'));
    assert.ok(messages.some((m) => m.status === 'cancelled'));
    assert.ok(messages.every((m) => m.status === 'sent' || m.status === 'cancelled'));
    assert.equal((await ctx.api.get(`/api/mailings/${id}/`)).status, 404);
  });

  it('adds newly matching clients and cancels those no longer matching when the filter changes while running', async () => {
    const [kept, dropped, added] = [uniqueTag('kept'), uniqueTag('dropped'), uniqueTag('added')];
    // More clients than the batches lease at once, so some are still unclaimed when the filter changes.
    await createClients(20, kept);
    const leaving = await createClients(100, dropped);
    const newcomers = await createClients(3, added);
    provider.setFaults({ latencyMs: 600 });
    const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'filter edit', filter: { tag: [kept, dropped] } });
    await eventually(async () => ((await statusOf(id)) === 'running' ? true : undefined));

    const res = await ctx.api.patch(`/api/mailings/${id}/`, { filter: { tag: [kept, added] } });
    const editedAt = Date.now();
    assert.equal(res.status, 200, res.text);
    await settled(id);

    const phones = new Set(provider.received().map((r) => String(r.phone)));
    assert.ok(newcomers.every((c) => phones.has(c.phone_number)));
    const messages = await messagesOf(id);
    assert.ok(messages.some((m) => m.status === 'cancelled'));
    assert.equal(new Set(provider.received().map((r) => r.msgId)).size, provider.received().length);
    // An edit reaches the requests not yet started within a second (a batch's terms are that fresh), however
    // long re-recording the audience takes; two seconds allow for a busy machine.
    const leavingPhones = new Set(leaving.map((c) => c.phone_number));
    assert.deepEqual(provider.received().filter((r) => leavingPhones.has(String(r.phone)) && r.at >= editedAt + 2 * SECOND), []);
  });

  it('deletes a finished mailing and keeps its messages listed', async () => {
    const tag = uniqueTag();
    await createClients(2, tag);
    const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'done', filter: { tag } });
    assert.equal(await settled(id), 'finished');

    assert.equal((await ctx.api.delete(`/api/mailings/${id}/`)).status, 204);
    assert.equal((await messagesOf(id)).filter((m) => m.status === 'sent').length, 2);
  });

  it('starts a mailing whose workflow could not be started when it was saved', async () => {
    const tag = uniqueTag();
    await createClients(2, tag);
    const [row] = await ctx.api.db('mailings')
      .insert({ start_at: new Date(), end_at: new Date(Date.now() + 3_600 * SECOND), text: 'reconciled', filter: { tag: [tag] } })
      .returning('id');
    const id = Number(row.id);

    assert.ok((await ctx.mailings.reconcile()) >= 1);
    assert.equal(await settled(id), 'finished');
    const messageIds = new Set((await messagesOf(id)).map((m) => m.id));
    assert.equal(provider.received().filter((r) => messageIds.has(r.msgId)).length, 2);
  });

  it('has the reconciler reach every open mailing in one run, a page per statement', async () => {
    const pageOfTwo = createMailingService({ temporal: ctx.temporal, taskQueue, limits: sendLimits(loadConfig()), stopWaitMs: 50, logger: createLogger('silent', 'reconcile-test'), reconcilePage: 2 });
    const rows = await ctx.api.db('mailings')
      .insert([1, 2, 3].map((n) => ({ start_at: new Date(Date.now() + 3_600 * SECOND), end_at: new Date(Date.now() + 7_200 * SECOND), text: `unstarted ${n}`, filter: { tag: [uniqueTag()] } })))
      .returning('id');
    const ids = rows.map((r: { id: string }) => Number(r.id));
    assert.ok((await pageOfTwo.reconcile()) >= 3);
    for (const id of ids) assert.equal((await ctx.temporal.workflow.getHandle(`mailing-${id}`).describe()).status.name, 'RUNNING');
    for (const id of ids) assert.equal((await ctx.api.delete(`/api/mailings/${id}/`)).status, 204);
  });

  it('carries on, messaging nobody twice, once the reconciler restarts its terminated workflow', async () => {
    const tag = uniqueTag();
    const audience = await createClients(6, tag);
    provider.setFaults({ latencyMs: 300 });
    const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'terminated', filter: { tag } });
    const requested = async () => {
      const messageIds = new Set((await messagesOf(id)).map((m) => m.id));
      return provider.received().some((r) => messageIds.has(r.msgId)) ? true : undefined;
    };
    await eventually(requested);
    await ctx.temporal.workflow.getHandle(`mailing-${id}`).terminate('an operator ran temporal workflow terminate');
    assert.equal(await statusOf(id), 'running');

    await ctx.mailings.reconcile();
    assert.equal(await settled(id), 'finished');
    const messageIds = new Set((await messagesOf(id)).map((m) => m.id));
    const accepted = provider.received().filter((r) => messageIds.has(r.msgId) && r.outcome === 'ok');
    assert.deepEqual(accepted.map((r) => String(r.phone)).sort(), audience.map((c) => c.phone_number).sort());
  });

  it("sends each client only inside its send window: at once where it is open, at its opening where it is not", async function () {
    this.timeout(180_000);
    const tag = uniqueTag();
    const [inUtc, inMoscow] = [await createClients(3, tag, 'UTC'), await createClients(3, tag, 'Europe/Moscow')];
    // Opens at the next whole minute (at least 30 s ahead) in UTC, and lasts four hours of wall-clock time:
    // in Moscow (UTC+3) that window is open already.
    const opensAt = Math.ceil((Date.now() + 30 * SECOND) / 60_000) * 60_000;
    const wall = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const started = Date.now();
    const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'window', filter: { tag }, send_window: { from: wall(opensAt), to: wall(opensAt + 4 * 3_600 * SECOND) } });

    assert.equal(await settled(id, 150_000), 'finished');
    const messageIds = new Set((await messagesOf(id)).map((m) => m.id));
    const arrivals = new Map(provider.received().filter((r) => messageIds.has(r.msgId)).map((r) => [String(r.phone), r.at]));
    for (const client of inMoscow) assert.ok(arrivals.get(client.phone_number)! < opensAt - 10 * SECOND, 'Moscow: sent at once');
    for (const client of inUtc) {
      const at = arrivals.get(client.phone_number)!;
      assert.ok(at >= opensAt && at < opensAt + 20 * SECOND, `UTC: sent ${(at - opensAt) / 1000} s after its window opened`);
    }
    assert.ok(started < opensAt);
  });

  describe('paused by an operator', () => {
    const messageIdsOf = async (id: number) => new Set((await messagesOf(id)).map((m) => m.id));
    const requestsOf = async (id: number) => {
      const ids = await messageIdsOf(id);
      return provider.received().filter((r) => ids.has(r.msgId));
    };

    it('starts no request after the pause answer, then resumes and messages every client once', async () => {
      const tag = uniqueTag();
      const audience = await createClients(80, tag);
      // 16 requests a second: five seconds for the whole audience.
      provider.setFaults({ latencyMs: 1000 });
      const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'paused', filter: { tag } });
      await eventually(async () => ((await requestsOf(id)).length >= 5 ? true : undefined));

      const paused = await ctx.api.post(`/api/mailings/${id}/pause/`);
      const answeredAt = Date.now();
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.body.status, 'paused');
      const before = (await requestsOf(id)).length;
      await new Promise((r) => setTimeout(r, 2 * SECOND));
      assert.deepEqual((await requestsOf(id)).filter((r) => r.at >= answeredAt), []);
      assert.ok(before < audience.length, 'paused mid-way');

      assert.equal((await ctx.api.post(`/api/mailings/${id}/resume/`)).body.status, 'running');
      assert.equal(await settled(id), 'finished');
      const accepted = (await requestsOf(id)).filter((r) => r.outcome === 'ok').map((r) => String(r.phone));
      assert.deepEqual(accepted.sort(), audience.map((c) => c.phone_number).sort());
    });

    it('applies a filter edited while paused once resumed: newly matching clients get the message, those no longer matching no more of them', async () => {
      const [kept, dropped, added] = [uniqueTag('kept'), uniqueTag('dropped'), uniqueTag('added')];
      await createClients(10, kept);
      const leaving = await createClients(40, dropped);
      const newcomers = await createClients(3, added);
      // 16 requests a second: most of the audience is still pending when the pause comes.
      provider.setFaults({ latencyMs: 1000 });
      const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'edited while paused', filter: { tag: [kept, dropped] } });
      await eventually(async () => ((await requestsOf(id)).length > 0 ? true : undefined));
      assert.equal((await ctx.api.post(`/api/mailings/${id}/pause/`)).status, 200);
      const pausedAt = Date.now();

      const edited = await ctx.api.patch(`/api/mailings/${id}/`, { filter: { tag: [kept, added] } });
      assert.equal(edited.status, 200, edited.text);
      assert.equal((await ctx.api.post(`/api/mailings/${id}/resume/`)).body.status, 'running');
      assert.equal(await settled(id), 'finished');

      const requests = await requestsOf(id);
      const phones = new Set(requests.map((r) => String(r.phone)));
      assert.ok(newcomers.every((c) => phones.has(c.phone_number)), 'every newly matching client was sent the message');
      const leavingPhones = new Set(leaving.map((c) => c.phone_number));
      assert.deepEqual(requests.filter((r) => leavingPhones.has(String(r.phone)) && r.at >= pausedAt), []);
      assert.ok((await messagesOf(id)).some((m) => m.status === 'cancelled'), 'the pending messages of the clients no longer matching are cancelled');
    });

    it('does not start while paused before its start, and starts once resumed', async () => {
      const tag = uniqueTag();
      await createClients(2, tag);
      const id = await createMailing({ start_at: isoIn(1_000), end_at: isoIn(3_600 * SECOND), text: 'held', filter: { tag } });
      assert.equal((await ctx.api.post(`/api/mailings/${id}/pause/`)).status, 200);
      await new Promise((r) => setTimeout(r, 3 * SECOND));
      assert.equal(await statusOf(id), 'paused');
      assert.equal((await requestsOf(id)).length, 0);
      await ctx.api.post(`/api/mailings/${id}/resume/`);
      assert.equal(await settled(id), 'finished');
    });

    it('expires at its end time while paused', async () => {
      const tag = uniqueTag();
      await createClients(60, tag);
      // 16 requests a second: most of the audience is still pending when the pause comes.
      provider.setFaults({ latencyMs: 1000 });
      const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(8 * SECOND), text: 'paused to the end', filter: { tag } });
      await eventually(async () => ((await requestsOf(id)).length > 0 ? true : undefined));
      assert.equal((await ctx.api.post(`/api/mailings/${id}/pause/`)).status, 200);
      assert.equal(await settled(id, 30_000), 'expired');
      const info = (await ctx.api.get(`/api/mailings/${id}/info/`)).body;
      assert.equal(info.counts.pending, 0);
      assert.ok(info.counts.expired > 0);
    });
  });

  it('reports progress: the recorded audience, the rate over the last minute and an estimated finish', async () => {
    const tag = uniqueTag();
    await createClients(20, tag);
    // 16 requests at a time, a second each: the last 4 go out a second after the first 16.
    provider.setFaults({ latencyMs: 1000 });
    const id = await createMailing({ start_at: isoIn(0), end_at: isoIn(3_600 * SECOND), text: 'progress', filter: { tag } });
    const progress = await eventually(async () => {
      const info = (await ctx.api.get(`/api/mailings/${id}/info/`)).body;
      return info.counts.sent > 0 && info.counts.pending > 0 ? info.progress : undefined;
    });
    assert.equal(progress.audience, 20);
    // The preview of the same filter counts what the start recorded.
    assert.deepEqual((await ctx.api.post('/api/mailings/preview/', { filter: { tag } })).body, { clients: progress.audience, estimated: false });
    assert.ok(progress.rate_per_second > 0);
    assert.ok(Date.parse(progress.estimated_finish_at) > Date.now());
    await settled(id);
  });

  it('tags its workflow with the mailing id so operators can find it', async () => {
    const id = await createMailing({ start_at: isoIn(3_600 * SECOND), end_at: isoIn(7_200 * SECOND), text: 'findable', filter: { tag: uniqueTag() } });
    const found = await eventually(async () => {
      for await (const workflow of ctx.temporal.workflow.list({ query: `MailingId = ${id}` })) return workflow.workflowId;
      return undefined;
    });
    assert.equal(found, `mailing-${id}`);
  });
});
