import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Model } from 'objection';
import { loadConfig, sendLimits } from '../../config';
import { createLogger } from '../../config/logger';
import { createMailingService } from '../../domain/mailings';
import { FakeProvider, startFakeProvider } from '../../stack/fake-provider';
import { RunningPostgres, startEmbeddedPostgres } from '../../stack/postgres/server';
import { temporalCliPath } from '../../stack/temporal/cli';
import { RunningTemporal, startTemporalDevServer } from '../../stack/temporal/dev-server';
import { connectDatabase, Database } from '../../storage/database';
import { migrateLatest } from '../../storage/migrate';
import { eventually } from '../support/eventually';
import { freePort } from '../../stack/process/ports';
import { WorkerProcess } from '../support/worker-process';
import { audit, messagesOf, SECOND } from './support';

const AUDIENCE = 300;

/**
 * Its own PostgreSQL and Temporal dev server (with a database file), so that both can be restarted
 * in the middle of a mailing without disturbing the other tests.
 */
describe('a mailing across restarts of PostgreSQL and of the Temporal server', function () {
  this.timeout(240_000);
  const logger = createLogger('silent', 'restarts');
  let dir: string;
  let pgPort: number;
  let temporalPort: number;
  let postgres: RunningPostgres;
  let temporal: RunningTemporal;
  let db: Database;
  let provider: FakeProvider;
  let worker: WorkerProcess;

  const startPostgres = async () => (postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, logger }));
  const startTemporal = async () =>
    (temporal = await startTemporalDevServer({ cliPath: await temporalCliPath(loadConfig()), dbFile: path.join(dir, 'temporal.db'), port: temporalPort, namespace: 'default', logger }));

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mailings-restarts-'));
    await chmod(dir, 0o755);
    [pgPort, temporalPort] = [await freePort(), await freePort()];
    await Promise.all([startPostgres(), startTemporal()]);
    await migrateLatest(postgres.url);
    db = connectDatabase(postgres.url, 4);
    provider = await startFakeProvider({ seed: 3 });
  });
  beforeEach(() => Model.knex(db));
  after(async () => {
    await worker?.kill();
    await provider?.stop();
    await db?.destroy();
    await temporal?.stop();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('completes, every client reached once, when both restart while it sends', async () => {
    const taskQueue = `restarts-${randomUUID().slice(0, 8)}`;
    worker = new WorkerProcess({
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      SEND_API_URL: provider.url,
      SEND_API_TOKEN: 'test-token',
      SEND_TIMEOUT_MS: '1000',
      SEND_CONCURRENCY: '8',
      SEND_RETRY_INITIAL_MS: '200',
      SEND_RETRY_MAX_MS: '2000',
    });
    await worker.start();
    const phones = Array.from({ length: AUDIENCE }, (_, i) => `7900${String(i).padStart(7, '0')}`);
    await db('clients').insert(phones.map((p) => ({ phone_number: p, mobile_operator_code: '900', tag: 'restarts', timezone: 'UTC' })));
    provider.setFaults({ latencyMs: 40 });

    const connection = await Connection.connect({ address: temporal.address });
    const mailings = createMailingService({ temporal: new Client({ connection }), taskQueue, limits: sendLimits(loadConfig()), stopWaitMs: 1000, logger });
    const endAt = Date.now() + 10 * 60 * SECOND;
    const { id } = await mailings.create({ start_at: new Date().toISOString(), end_at: new Date(endAt).toISOString(), text: 'restarts', filter: { tag: 'restarts' } });
    await connection.close();

    await eventually(async () => (provider.received().length >= AUDIENCE / 5 ? true : undefined));
    await postgres.stop();
    await new Promise((r) => setTimeout(r, 2 * SECOND));
    await startPostgres();
    await eventually(async () => (provider.received().length >= (AUDIENCE * 3) / 5 ? true : undefined));
    await temporal.stop();
    await new Promise((r) => setTimeout(r, 2 * SECOND));
    await startTemporal();

    const status = await eventually(async () => {
      const row = await db('mailings').where({ id }).first('status').catch(() => undefined);
      return row && ['finished', 'expired'].includes(row.status) ? row.status : undefined;
    }, 150 * SECOND);
    assert.equal(status, 'finished');
    const messages = await messagesOf(db, id);
    const report = audit(provider, new Set(messages.map((m) => m.id)), phones, endAt);
    console.log(`      restarts: ${report.delivered} delivered of ${AUDIENCE}, ${report.deliveredTwice} msgIds accepted twice, ${report.lost} lost, ${report.late} late`);
    assert.equal(report.lost, 0);
    assert.equal(report.clientsWithTwoMessages, 0);
    // No worker died, so no answer was lost: outcome writes outlast the PostgreSQL restart within their
    // lease, and the batches carry on through the Temporal one (README, Crash safety).
    assert.equal(report.deliveredTwice, 0, 'a msgId was accepted twice');
    assert.ok(messages.every((m) => m.status === 'sent'));
  });
});
