import assert from 'node:assert/strict';
import knex, { type Knex } from 'knex';
import { buildMeasuredProcesses } from '../../bench/build';
import { startBaselineProcess } from '../../bench/stack';
import { createLogger } from '../../config/logger';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';
import { Parts } from '../../stack/process/parts';
import { createOwnDatabase, type OwnDatabase } from '../support/own-database';

const CLIENTS = 300;
const TOKEN = 'baseline-test';

/**
 * The loop `npm run bench` compares the service with, compiled and in its own process, on a database
 * of its own: it sends every client's message there, so other tests' clients stay out of it.
 */
describe("the benchmark's baseline loop, compiled, as its own process", function () {
  this.timeout(120_000);
  let database: OwnDatabase;
  let db: Knex;
  let provider: FakeProvider;
  let databaseUrl: string;
  const parts = new Parts(createLogger('silent', 'test'));

  before(async () => {
    [database] = await Promise.all([createOwnDatabase('bench_baseline'), buildMeasuredProcesses()]);
    databaseUrl = database.url;
    db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
    await db.raw(
      `INSERT INTO clients (phone_number, mobile_operator_code, tag, timezone)
       SELECT (79000000000 + g)::text, '900', 'bench', 'Europe/Moscow' FROM generate_series(1, ?) g`,
      [CLIENTS],
    );
    provider = await startFakeProvider({ token: TOKEN });
  });

  after(async () => {
    await parts.stopAll();
    await provider?.stop();
    await db?.destroy();
    await database?.drop();
  });

  it('waits to be told to go, then sends each client one message, reports its mailing and exits once its stdin closes', async () => {
    const loop = await startBaselineProcess({ ...process.env, DATABASE_URL: databaseUrl, SEND_API_URL: provider.url, SEND_API_TOKEN: TOKEN, SEND_CONCURRENCY: '8' }, parts);
    // An absence has no event to wait for: a loop that did not wait would have made its mailing
    // within milliseconds of `ready` and sent 300 messages well within this bounded wait.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(Number((await db('mailings').count('* as n'))[0].n), 0, 'no mailing is made before the go');
    assert.equal(provider.received().length, 0, 'nothing is sent before the go');

    const mailingId = await loop.run();

    const sent = (await db.raw(`SELECT count(*)::int AS n FROM messages WHERE mailing_id = ? AND status = 'sent'`, [mailingId])).rows[0].n;
    assert.equal(sent, CLIENTS);
    const perMessage = [...provider.countsByMsgId().values()];
    assert.equal(perMessage.length, CLIENTS);
    assert.ok(perMessage.every((count) => count === 1), 'each message was sent once');
    await loop.end();
    assert.ok(!isAlive(loop.pid), 'the process is gone once its stdin closed');
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
