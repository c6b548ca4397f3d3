import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { FakeProvider, Faults, startFakeProvider } from '../../stack/fake-provider';
import { uniqueTag, useApi } from '../support/api';
import { eventually } from '../support/eventually';
import { RunningWorker, startWorker } from '../support/worker';
import { audit, createMailing, messagesOf, SECOND, seedAudience, settled } from './support';

const AUDIENCE = 40;

describe('sending through a faulty provider', function () {
  this.timeout(120_000);
  const taskQueue = `faults-${randomUUID().slice(0, 8)}`;
  const ctx = useApi({ taskQueue });
  let provider: FakeProvider;
  let worker: RunningWorker;

  before(async () => {
    provider = await startFakeProvider({ seed: 7 });
    worker = await startWorker({
      taskQueue,
      providerUrl: provider.url,
      mailings: ctx.mailings,
      policy: { concurrency: 8, requestTimeoutMs: 1_000, retryInitialMs: 100, retryMaxMs: 1_000, outageThreshold: 5 },
    });
  });
  after(async () => {
    await worker?.stop();
    await provider?.stop();
  });
  beforeEach(() => provider.reset());

  /** Runs a mailing to a fresh audience under `faults` and audits it from the provider's record. */
  async function mailThrough(faults: Faults) {
    const tag = uniqueTag('faults');
    const phones = await seedAudience(ctx.api, tag, AUDIENCE);
    provider.setFaults(faults);
    const { id, endAt } = await createMailing(ctx.api, tag);
    const status = await settled(ctx.api, id);
    const messages = await messagesOf(ctx.api.db, id);
    return { status, messages, report: audit(provider, new Set(messages.map((m) => m.id)), phones, endAt) };
  }

  function assertAllDeliveredOnce({ status, messages, report }: Awaited<ReturnType<typeof mailThrough>>) {
    assert.equal(status, 'finished');
    assert.equal(report.lost, 0, 'a client never got its message');
    assert.equal(report.deliveredTwice, 0, 'a message was accepted twice');
    assert.equal(report.clientsWithTwoMessages, 0);
    assert.ok(messages.every((m) => m.status === 'sent'));
  }

  it('delivers every message once through random latency', async () => {
    assertAllDeliveredOnce(await mailThrough({ latencyMs: { min: 5, max: 150 } }));
  });

  it('retries requests that never answer, with the same msgId, until delivered', async () => {
    const result = await mailThrough({ hangRate: 0.2 });
    assertAllDeliveredOnce(result);
    const hung = [...result.report.byMsgId.values()].filter((rs) => rs[0].outcome === 'hang');
    assert.ok(hung.length > 0);
    assert.ok(hung.every((rs) => rs.at(-1)!.outcome === 'ok' && new Set(rs.map((r) => r.msgId)).size === 1));
  });

  it('retries 5xx answers with backoff and records the attempts', async () => {
    const result = await mailThrough({ errorRate: 0.3 });
    assertAllDeliveredOnce(result);
    assert.ok(result.messages.some((m) => m.attempts > 1 && m.last_error?.includes('provider answered 5')));
  });

  it('retries answers that are not JSON, of the wrong shape or with a non-zero code', async () => {
    const result = await mailThrough({ malformedRate: 0.1, wrongShapeRate: 0.1, nonZeroCodeRate: 0.1 });
    assertAllDeliveredOnce(result);
    assert.ok(result.messages.some((m) => m.attempts > 1));
  });

  it('retries connections reset in the middle of the answer', async () => {
    const result = await mailThrough({ resetRate: 0.2 });
    assertAllDeliveredOnce(result);
    assert.ok(result.messages.some((m) => m.attempts > 1));
  });

  it('fails a message the provider refuses with 400 and does not retry it', async () => {
    const { status, messages, report } = await mailThrough({ clientErrorRate: 0.3, clientErrorStatus: 400 });
    assert.equal(status, 'finished');
    const failed = messages.filter((m) => m.status === 'failed');
    assert.ok(failed.length > 0);
    assert.ok(failed.every((m) => m.attempts === 1 && m.last_error?.includes('400')));
    assert.ok(failed.every((m) => report.byMsgId.get(m.id)!.length === 1));
    assert.ok(messages.every((m) => m.status === 'sent' || m.status === 'failed'));
  });

  it('waits as long as Retry-After says before retrying a 429', async () => {
    const result = await mailThrough({ rateLimit: { rate: 0.3, retryAfterSec: 1 } });
    assertAllDeliveredOnce(result);
    const limited = [...result.report.byMsgId.values()].filter((rs) => rs[0].outcome === '429');
    assert.ok(limited.length > 0);
    assert.ok(limited.every((rs) => rs[1].at - rs[0].at >= 900), 'a 429 was retried before Retry-After');
  });

  it('keeps retrying while the token is refused and delivers once it is accepted again', async () => {
    const tag = uniqueTag('token');
    const phones = await seedAudience(ctx.api, tag, 5);
    provider.setFaults({ clientErrorRate: 1, clientErrorStatus: 401 });
    const { id, endAt } = await createMailing(ctx.api, tag);
    // Until every message has been refused twice, none may be given up on: the sending goes on.
    const waiting = await eventually(async () => {
      const messages = await messagesOf(ctx.api.db, id);
      assert.deepEqual(messages.filter((m) => m.status !== 'pending'), [], 'a message was given up on while the token was refused');
      return messages.length === phones.length && messages.every((m) => m.attempts >= 2) ? messages : undefined;
    }, 30 * SECOND);
    assert.ok(waiting.every((m) => m.last_error?.includes('SEND_API_TOKEN')), 'the refusal is recorded as a token problem');

    provider.setFaults({});
    assert.equal(await settled(ctx.api, id), 'finished');
    const messages = await messagesOf(ctx.api.db, id);
    assert.equal(audit(provider, new Set(messages.map((m) => m.id)), phones, endAt).lost, 0);
  });

  it('backs off as a whole during an outage and resumes by itself when the provider is back', async () => {
    const tag = uniqueTag('outage');
    const phones = await seedAudience(ctx.api, tag, 200);
    provider.outage(3 * SECOND);
    const { id, endAt } = await createMailing(ctx.api, tag);
    assert.equal(await settled(ctx.api, id), 'finished');

    const messages = await messagesOf(ctx.api.db, id);
    const report = audit(provider, new Set(messages.map((m) => m.id)), phones, endAt);
    assert.equal(report.lost, 0);
    const refused = messages.reduce((sum, m) => sum + m.attempts, 0) - report.requests;
    assert.ok(refused < phones.length / 2, `${refused} requests hammered the provider while it was down`);
  });

  it('answers API requests quickly while every provider request stalls', async () => {
    const tag = uniqueTag('stall');
    await seedAudience(ctx.api, tag, 20);
    provider.setFaults({ hangRate: 1 });
    const { id } = await createMailing(ctx.api, tag);
    await new Promise((r) => setTimeout(r, 500));
    for (const path of ['/api/mailings/', `/api/mailings/${id}/info/`, '/api/clients/?limit=10', '/readyz']) {
      const started = performance.now();
      assert.equal((await ctx.api.get(path)).status, 200);
      assert.ok(performance.now() - started < 500, `${path} was slow while the provider stalled`);
    }
    assert.equal((await ctx.api.delete(`/api/mailings/${id}/`)).status, 204);
  });
});
