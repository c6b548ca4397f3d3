import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { apiMetrics, collectApiMetrics } from '../../api/metrics';
import { createLogger } from '../../config/logger';
import { serveMetrics, type MetricsServer } from '../../config/metrics-server';
import { startFakeProvider, type FakeProvider, type Outcome } from '../../stack/fake-provider';
import { freePort } from '../../stack/process/ports';
import { countByStatus } from '../../storage/mailing-lifecycle';
import { pendingTotal } from '../../storage/mailing-counts';
import { isoIn, randomPhone, uniqueTag, useApi } from '../support/api';
import { eventually } from '../support/eventually';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus';
import { WorkerProcess } from '../support/worker-process';

const AUDIENCE = 30;

/**
 * A real Prometheus scrapes the API, a real worker process and the Temporal SDK's endpoint of that
 * worker while a mailing goes out to the fake provider, whose 5xx answers make some sends retried;
 * the figures Prometheus holds must be the provider's own.
 */
describe('metrics scraped by a real Prometheus during a mailing', function () {
  this.timeout(180_000);
  const taskQueue = `prometheus-${randomUUID().slice(0, 8)}`;
  const ctx = useApi({ taskQueue });
  let provider: FakeProvider;
  let apiMetricsServer: MetricsServer;
  let worker: WorkerProcess;
  let prometheus: RunningPrometheus;
  let mailingId: number;

  /** What the fake provider says it received, by what it answered (its control endpoint). */
  const received = async () => ((await (await fetch(new URL('/control/received', provider.url))).json()) as { byOutcome: Record<Outcome, number> }).byOutcome;

  before(async () => {
    provider = await startFakeProvider({ seed: 12 });
    provider.setFaults({ errorRate: 0.2, errorStatus: 503 });
    collectApiMetrics({ mailingsByStatus: countByStatus, pendingMessages: pendingTotal });
    apiMetricsServer = (await serveMetrics(apiMetrics, 0, '127.0.0.1', createLogger('silent', 'api-metrics')))!;
    const [metricsPort, sdkMetricsPort] = [await freePort(), await freePort()];
    worker = new WorkerProcess({
      TEMPORAL_TASK_QUEUE: taskQueue,
      SEND_API_URL: provider.url,
      SEND_API_TOKEN: 'prometheus-test',
      SEND_RETRY_INITIAL_MS: '100',
      SEND_RETRY_MAX_MS: '400',
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      SDK_METRICS_PORT: String(sdkMetricsPort),
    });
    await worker.start();
    // The jobs of deploy/prometheus/prometheus.yml, with its alert rules.
    prometheus = await startPrometheus(
      {
        'mailing-api': `127.0.0.1:${apiMetricsServer.port}`,
        'mailing-worker': `127.0.0.1:${metricsPort}`,
        'mailing-worker-sdk': `127.0.0.1:${sdkMetricsPort}`,
      },
      [path.join(__dirname, '..', '..', 'deploy', 'prometheus', 'alerts.yml')],
    );

    const tag = uniqueTag();
    for (let i = 0; i < AUDIENCE; i++) assert.equal((await ctx.api.post('/api/clients/', { phone_number: randomPhone(), timezone: 'Europe/Moscow', tag })).status, 201);
    const created = await ctx.api.post('/api/mailings/', { start_at: isoIn(0), end_at: isoIn(3_600_000), text: 'scraped', filter: { tag } });
    assert.equal(created.status, 201, created.text);
    mailingId = created.body.id;
    await eventually(async () => ((await ctx.api.get(`/api/mailings/${mailingId}/`)).body.status === 'finished' ? true : undefined), 120_000);
  });
  after(async () => {
    await prometheus?.stop();
    await worker?.kill('SIGTERM');
    await apiMetricsServer?.close();
    await provider?.stop();
  });

  /**
   * Waits until Prometheus has scraped `query` at the expected value (a counter keeps rising until the
   * last scrape), asked again each time: the reconciler may hand this worker leftovers of other tests.
   */
  const scraped = (query: string, expected: number | (() => Promise<number>)) => {
    const expect = typeof expected === 'number' ? async () => expected : expected;
    return eventually(async () => ((await prometheus.value(query)) === (await expect()) ? true : undefined), 30_000).catch(async () => {
      assert.fail(`${query} is ${await prometheus.value(query)} in Prometheus, expected ${await expect()}`);
    });
  };

  it('counts as sent exactly the messages the provider accepted', async () => {
    const { ok } = await received();
    assert.ok(ok >= AUDIENCE, `the provider accepted ${ok} messages`);
    await scraped('sum(mailing_messages_total{outcome="sent"})', async () => (await received()).ok);
  });

  it('counts every 5xx answer as a retried send and times it as 5xx', async () => {
    assert.ok((await received())['5xx'] > 0, 'the provider answered no 5xx: the fault setting is not in effect');
    await scraped('sum(mailing_messages_total{outcome="retried"})', async () => (await received())['5xx']);
    await scraped('sum(mailing_provider_request_duration_seconds_count{result="5xx"})', async () => (await received())['5xx']);
    await scraped('sum(mailing_provider_request_duration_seconds_count{result="2xx"})', async () => (await received()).ok);
    await scraped('sum(mailing_provider_requests_in_flight)', 0);
  });

  it("reads the finished mailings and the pending messages from the API as the tables count them, none of them the finished mailing's", async () => {
    // Counted from the tables here, not by the functions that feed the gauges (the pending gauge reads
    // the counters). The reconciler may be running other tests' leftovers, so each try counts again.
    const count = async (sql: string, bindings: number[] = []) => Number((await ctx.api.db.raw(sql, bindings)).rows[0].n);
    assert.equal(await count(`SELECT count(*) AS n FROM messages WHERE mailing_id = ? AND status = 'pending'`, [mailingId]), 0);
    await scraped('max(mailings{status="finished"})', () => count(`SELECT count(*) AS n FROM mailings WHERE status = 'finished' AND deleted_at IS NULL`));
    // Some pending messages for the gauge to show: a mailing starting tomorrow, with messages put in by hand.
    const waiting = await ctx.api.createMailing();
    await ctx.api.db('messages').insert(Array.from({ length: 3 }, () => ({ mailing_id: waiting.id, phone: randomPhone() })));
    try {
      // Only an open mailing can have pending messages; tests elsewhere close mailings by hand, leaving some.
      const pending = () => count(`SELECT count(*) AS n FROM messages m JOIN mailings ml ON ml.id = m.mailing_id WHERE m.status = 'pending' AND ml.status IN ('scheduled', 'running', 'paused')`);
      assert.ok((await pending()) >= 3);
      await scraped('max(mailing_messages_pending)', pending);
    } finally {
      await ctx.api.delete(`/api/mailings/${waiting.id}/`);
    }
    assert.ok((await prometheus.value('sum(http_request_duration_seconds_count{route="/api/mailings/{id}/",method="GET"})'))! > 0);
  });

  it('scrapes the Temporal SDK metrics of the worker on their own port', async () => {
    await scraped('up{job="mailing-worker-sdk"}', 1);
    const series = await prometheus.value('count({job="mailing-worker-sdk", __name__=~"temporal_.+"})');
    assert.ok(series! > 0, 'no temporal_* series from the SDK endpoint');
    assert.ok((await prometheus.value('sum(temporal_activity_execution_latency_count{activity_type="sendBatch"})'))! > 0);
  });

  it('evaluates every alert rule of deploy/prometheus against these series without error', async () => {
    const rules = await eventually(async () => {
      const loaded = await prometheus.rules();
      return loaded.length > 0 && loaded.every((rule) => rule.health !== 'unknown') ? loaded : undefined;
    }, 30_000);
    assert.deepEqual(
      rules.filter((rule) => rule.health !== 'ok'),
      [],
    );
    assert.ok(rules.some((rule) => rule.name === 'MailingExpiredWithUnsentMessages'));
  });
});
