import assert from 'node:assert/strict';
import net from 'node:net';
import { apiMetrics, collectApiMetrics } from '../../api/metrics';
import { createLogger } from '../../config/logger';
import { serveMetrics, type MetricsServer } from '../../config/metrics-server';
import { countByStatus } from '../../storage/mailing-lifecycle';
import { pendingTotal } from '../../storage/mailing-counts';
import { mailingWithDueMessages } from '../activities/fixtures';
import { useApi } from '../support/api';

const silent = createLogger('silent', 'metrics-test');

/** The value of one series in Prometheus text, or undefined when it is not there. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('API metrics', () => {
  const ctx = useApi();
  let server: MetricsServer;
  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  before(async () => {
    collectApiMetrics({ mailingsByStatus: countByStatus, pendingMessages: pendingTotal });
    server = (await serveMetrics(apiMetrics, 0, '127.0.0.1', silent))!;
  });
  after(() => server?.close());

  it('times requests by route template, never by the path with its ids', async () => {
    const mailing = await ctx.api.createMailing();
    const series = `http_request_duration_seconds_count{method="GET",route="/api/mailings/{id}/",status="200"}`;
    const before = sample(await scrape(), series) ?? 0;

    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/`)).status, 200);
    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}`)).status, 200);

    const text = await scrape();
    assert.equal(sample(text, series), before + 2);
    assert.doesNotMatch(text, new RegExp(`route="[^"]*${mailing.id}`), 'an id became a label value');
  });

  it('labels a concrete path as itself, not as the template it also matches', async () => {
    await ctx.api.get('/api/mailings/fullinfo/?limit=1');
    assert.ok(sample(await scrape(), `http_request_duration_seconds_count{method="GET",route="/api/mailings/fullinfo/",status="200"}`));
  });

  it('labels every path no route knows as unmatched', async () => {
    const series = `http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}`;
    const before = sample(await scrape(), series) ?? 0;
    await ctx.api.get('/no/such/path/12345', { unchecked: true });
    await ctx.api.get('/another/67890', { unchecked: true });
    assert.equal(sample(await scrape(), series), before + 2);
  });

  it('reads mailings by status and pending messages from PostgreSQL when scraped', async () => {
    const { db } = ctx.api;
    const { mailingId } = await mailingWithDueMessages(db, 3);
    try {
      const text = await scrape();
      const count = async (query: ReturnType<typeof db>) => Number((await query.count<{ count: string }[]>('* as count'))[0].count);
      assert.equal(sample(text, 'mailings{status="running"}'), await count(db('mailings').where({ status: 'running' }).whereNull('deleted_at')));
      assert.equal(sample(text, 'mailings{status="scheduled"}'), await count(db('mailings').where({ status: 'scheduled' }).whereNull('deleted_at')));
      assert.equal(sample(text, 'mailings{status="cancelled"}'), undefined, 'deleted mailings are not counted');
      const pendingOfOpenMailings = db('messages')
        .join('mailings', 'mailings.id', 'messages.mailing_id')
        .where('messages.status', 'pending')
        .whereIn('mailings.status', ['scheduled', 'running', 'paused']);
      assert.equal(sample(text, 'mailing_messages_pending'), await count(pendingOfOpenMailings));
      assert.ok(sample(text, 'mailing_messages_pending')! >= 3);
    } finally {
      await db('messages').where({ mailing_id: mailingId }).update({ status: 'cancelled' });
      await db('mailings').where({ id: mailingId }).update({ status: 'cancelled', deleted_at: new Date() });
    }
  });

  it('still serves the request and process metrics when PostgreSQL does not answer, without stale gauges', async () => {
    await scrape(); // the gauges hold figures now
    collectApiMetrics({ mailingsByStatus: () => Promise.reject(new Error('down')), pendingMessages: () => Promise.reject(new Error('down')) });
    try {
      const text = await scrape();
      assert.ok(Number.isNaN(sample(text, 'mailing_messages_pending')));
      assert.equal(sample(text, 'mailings{status="scheduled"}'), undefined);
      assert.match(text, /^http_request_duration_seconds_count\{/m);
      assert.ok(sample(text, 'process_resident_memory_bytes')! > 0);
    } finally {
      collectApiMetrics({ mailingsByStatus: countByStatus, pendingMessages: pendingTotal });
    }
  });

  it('serves the process metrics beside them', async () => {
    const text = await scrape();
    assert.ok(sample(text, 'process_resident_memory_bytes')! > 0);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('answers 404 anywhere but /metrics', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/`)).status, 404);
  });

  it('leaves the process running without metrics when the port is taken', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    try {
      assert.equal(await serveMetrics(apiMetrics, (taken.address() as net.AddressInfo).port, '127.0.0.1', silent), undefined);
    } finally {
      taken.close();
    }
  });
});
