import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { Model } from 'objection';
import { CancelledFailure } from '@temporalio/common';
import { AUDIENCE_CHUNKS_AT_ONCE, createMailingActivities, type SendingPolicy } from '../../activities/mailing';
import type { RateLimiter } from '../../activities/rate-limit';
import { nextOpening } from '../../activities/send-window';
import { createLogger } from '../../config/logger';
import { recordAudienceChunk } from '../../storage/audience';
import { connectDatabase, type Database } from '../../storage/database';
import * as lifecycle from '../../storage/mailing-lifecycle';
import { countsByMailing } from '../../storage/mailing-counts';
import { eventually } from '../support/eventually';
import { insertClients, insertMailing, insertMessages, mailingWithDueMessages, messageStates, uniqueTag } from './fixtures';

const HOUR = 3_600_000;
const logger = createLogger('silent', 'lifecycle-spec');
const unlimited: RateLimiter = { acquire: async () => undefined };
/** For mailings without a send window, which never ask when a zone's window opens. */
const anyTime = () => [];
const POLICY: SendingPolicy = { concurrency: 4, requestTimeoutMs: 2000, retryInitialMs: 1000, retryMaxMs: 60_000, outageThreshold: 3 };

describe('the mailing state machine', () => {
  let db: Database;
  const activities = createMailingActivities({
    provider: { send: async () => ({ result: 'sent' }), close: async () => undefined },
    rateLimiter: unlimited,
    policy: POLICY,
    logger,
  });
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) => new MockActivityEnvironment().run(fn, ...args);

  before(() => {
    db = connectDatabase(process.env.DATABASE_URL!);
  });
  beforeEach(() => Model.knex(db));
  after(() => db?.destroy());

  const mailingRow = async (id: number) => db('mailings').where({ id }).first();
  const statuses = async (mailingId: number) => (await messageStates(db, mailingId)).map((m) => m.status);
  const scheduled = (fields: Parameters<typeof insertMailing>[1] = {}) => insertMailing(db, { status: 'scheduled', audienceDone: false, ...fields });

  describe('claiming the start', () => {
    it('moves a due scheduled mailing to running', async () => {
      const id = await scheduled();
      assert.deepEqual(await lifecycle.claimStart(id), { result: 'started' });
      assert.equal((await mailingRow(id)).status, 'running');
    });

    it('answers started again when repeated, so a retried activity is harmless', async () => {
      const id = await scheduled();
      await lifecycle.claimStart(id);
      assert.deepEqual(await lifecycle.claimStart(id), { result: 'started' });
    });

    it("answers early, with the wait by the database's clock, before the start time", async () => {
      const id = await scheduled({ startAt: new Date(Date.now() + HOUR), endAt: new Date(Date.now() + 2 * HOUR) });
      const claim = await lifecycle.claimStart(id);
      assert.equal(claim.result, 'early');
      assert.ok(claim.result === 'early' && claim.waitMs > HOUR - 60_000 && claim.waitMs <= HOUR);
      assert.equal((await mailingRow(id)).status, 'scheduled');
    });

    it('expires a mailing whose window passed before it could start', async () => {
      const id = await scheduled({ startAt: new Date(Date.now() - 2 * HOUR), endAt: new Date(Date.now() - HOUR) });
      assert.deepEqual(await lifecycle.claimStart(id), { result: 'missed' });
      assert.equal((await mailingRow(id)).status, 'expired');
    });

    it('never starts a deleted mailing', async () => {
      const id = await scheduled({ deletedAt: new Date() });
      assert.deepEqual(await lifecycle.claimStart(id), { result: 'gone' });
      assert.equal((await mailingRow(id)).status, 'scheduled');
    });
  });

  describe('an edit', () => {
    const fields = { start_at: new Date(Date.now() + HOUR).toISOString(), end_at: new Date(Date.now() + 2 * HOUR).toISOString(), text: 'later', filter: {}, send_window: null };

    it('is refused when the mailing started after the editor read it', async () => {
      const id = await scheduled();
      await lifecycle.claimStart(id);
      assert.equal(await lifecycle.applyEdit(id, fields, 'scheduled'), undefined);
      assert.equal((await mailingRow(id)).text, 'hello from the activity tests');
    });

    it('is refused once the mailing is deleted', async () => {
      const id = await scheduled({ deletedAt: new Date() });
      assert.equal(await lifecycle.applyEdit(id, fields, 'scheduled'), undefined);
    });

    it('of the filter re-opens the audience of a running mailing', async () => {
      const id = await insertMailing(db, { filter: { tag: ['a'] } });
      await db('mailings').where({ id }).update({ audience_cursor: 500 });
      await lifecycle.applyEdit(id, { ...fields, filter: { tag: ['b'] } }, 'running');
      const row = await mailingRow(id);
      assert.deepEqual([row.audience_done, Number(row.audience_cursor)], [false, 0]);
    });

    it('of the filter re-opens the audience of a mailing paused after its start', async () => {
      const id = await insertMailing(db, { filter: { tag: ['a'] }, status: 'paused', startedAt: new Date(Date.now() - 30_000) });
      await db('mailings').where({ id }).update({ audience_cursor: 500 });
      await lifecycle.applyEdit(id, { ...fields, filter: { tag: ['b'] } }, 'paused');
      const row = await mailingRow(id);
      assert.deepEqual([row.audience_done, Number(row.audience_cursor)], [false, 0]);
    });

    it('of the text alone leaves the recorded audience of a paused mailing as it is', async () => {
      const id = await insertMailing(db, { filter: { tag: ['a'] }, status: 'paused', startedAt: new Date(Date.now() - 30_000) });
      await lifecycle.applyEdit(id, { ...fields, filter: { tag: ['a'] }, text: 'new words' }, 'paused');
      const row = await mailingRow(id);
      assert.deepEqual([row.audience_done, row.text], [true, 'new words']);
    });
  });

  describe('finishing', () => {
    it('never finishes a deleted mailing: its pending messages are cancelled instead', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 2, { deletedAt: new Date() });
      assert.equal(await run(activities.finishMailing, mailingId, false), 'cancelled');
      assert.deepEqual(await statuses(mailingId), ['cancelled', 'cancelled']);
    });

    it('answers running, finishing nothing, while the audience is not fully recorded', async () => {
      const id = await insertMailing(db, { audienceDone: false });
      assert.equal(await run(activities.finishMailing, id, false), 'running');
      assert.equal((await mailingRow(id)).status, 'running');
    });

    it('at the end time expires the pending messages, keeps the sent ones and returns expired', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 3);
      await db('messages').where({ id: messageIds[0] }).update({ status: 'sent', sent_at: new Date(), attempts: 1 });
      assert.equal(await run(activities.finishMailing, mailingId, true), 'expired');
      assert.deepEqual(await statuses(mailingId), ['sent', 'expired', 'expired']);
      assert.equal((await mailingRow(mailingId)).status, 'expired');
    });

    it('at the end time leaves nothing pending, even when an audience chunk holding the mailing commits a message meanwhile', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 2);
      const [latecomer] = await insertClients(db, 1);
      const chunk = await db.transaction();
      await chunk.raw('SELECT id FROM mailings WHERE id = ? FOR NO KEY UPDATE', [mailingId]);
      const finishing = run(activities.finishMailing, mailingId, true);
      // Once the end waits for the chunk's lock, the chunk records its message and commits.
      await eventually(async () => {
        const { rows } = await db.raw(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE mailings SET status%'`);
        return rows.length > 0 || undefined;
      });
      await insertMessages(chunk, mailingId, [latecomer]);
      await chunk.commit();
      assert.equal(await finishing, 'expired');
      assert.deepEqual(await statuses(mailingId), ['expired', 'expired', 'expired']);
    });

    it('returns finished when every message was handled', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 2);
      await db('messages').where({ mailing_id: mailingId }).update({ status: 'sent', sent_at: new Date(), attempts: 1 });
      assert.equal(await run(activities.finishMailing, mailingId, true), 'finished');
      assert.equal((await mailingRow(mailingId)).status, 'finished');
    });
  });

  describe('cancelling', () => {
    it('cancels the pending messages, leaves the sent ones, and hides the mailing as cancelled', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 3);
      await db('messages').where({ id: messageIds[1] }).update({ status: 'sent', sent_at: new Date(), attempts: 1 });
      await run(activities.cancelMailing, mailingId);
      assert.deepEqual(await statuses(mailingId), ['cancelled', 'sent', 'cancelled']);
      const row = await mailingRow(mailingId);
      assert.equal(row.status, 'cancelled');
      assert.notEqual(row.deleted_at, null);
    });

    it('leaves a finished mailing finished', async () => {
      const id = await insertMailing(db, { status: 'finished' });
      await run(activities.cancelMailing, id);
      assert.equal((await mailingRow(id)).status, 'finished');
    });
  });

  describe('recording the audience', () => {
    it('records one pending message per client matching the filter, to the phone of each', async () => {
      const tag = uniqueTag();
      const matching = await insertClients(db, 3, { tag });
      await insertClients(db, 2, { tag: uniqueTag() });
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false });
      assert.equal(await run(activities.recordAudience, mailingId), 3);
      const rows = await db('messages').join('clients', 'clients.id', 'messages.client_id').where({ mailing_id: mailingId }).orderBy('client_id');
      assert.deepEqual(rows.map((r) => [Number(r.client_id), r.status, r.phone]), matching.map((id, i) => [id, 'pending', rows[i].phone_number]));
      assert.equal((await mailingRow(mailingId)).audience_done, true);
    });

    it('goes in chunks that resume after the last recorded client', async () => {
      const tag = uniqueTag();
      await insertClients(db, 5, { tag });
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false });
      assert.deepEqual(await recordAudienceChunk(mailingId, 2, anyTime), { recorded: 2, cancelled: 0, done: false });
      assert.deepEqual(await recordAudienceChunk(mailingId, 2, anyTime), { recorded: 2, cancelled: 0, done: false });
      assert.deepEqual(await recordAudienceChunk(mailingId, 2, anyTime), { recorded: 1, cancelled: 0, done: false });
      assert.deepEqual(await recordAudienceChunk(mailingId, 2, anyTime), { recorded: 0, cancelled: 0, done: true });
      assert.equal((await statuses(mailingId)).length, 5);
    });

    describe(`with many mailings at once: ${AUDIENCE_CHUNKS_AT_ONCE} chunks at a time per worker`, () => {
      /** Mailings with an audience of 3 each; the returned transaction holds the rows of the first `locked` until released. */
      async function mailingsWithAudience(count: number, locked: number) {
        const ids: number[] = [];
        for (let i = 0; i < count; i++) {
          const tag = uniqueTag();
          await insertClients(db, 3, { tag });
          ids.push(await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false }));
        }
        const lock = await db.transaction();
        await lock.raw('SELECT id FROM mailings WHERE id = ANY(?::bigint[]) FOR UPDATE', [ids.slice(0, locked)]);
        return { ids, release: () => lock.commit() };
      }
      /** Chunk transactions waiting in PostgreSQL for a mailing row. */
      const chunksWaitingForRows = async () =>
        Number((await db.raw(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%audience_cursor%FOR NO KEY UPDATE%'`)).rows[0].count);
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

      it('leaves the others waiting for a turn, holding no database connection, while two chunks are under way', async () => {
        const { ids, release } = await mailingsWithAudience(AUDIENCE_CHUNKS_AT_ONCE + 2, AUDIENCE_CHUNKS_AT_ONCE + 1);
        const recordings = ids.map((id) => run(activities.recordAudience, id));
        try {
          await eventually(async () => ((await chunksWaitingForRows()) >= AUDIENCE_CHUNKS_AT_ONCE ? true : undefined), 10_000);
          await settle();
          assert.equal(await chunksWaitingForRows(), AUDIENCE_CHUNKS_AT_ONCE);
          // The last mailing's row is free, but its recording waits its turn behind the blocked ones.
          assert.deepEqual(await statuses(ids.at(-1)!), []);
        } finally {
          await release();
        }
        assert.deepEqual(await Promise.all(recordings), ids.map(() => 3));
      });

      it('ends a recording waiting for its turn at once when it is cancelled, and the turns still go round', async () => {
        const { ids, release } = await mailingsWithAudience(AUDIENCE_CHUNKS_AT_ONCE + 1, AUDIENCE_CHUNKS_AT_ONCE);
        const blocked = ids.slice(0, AUDIENCE_CHUNKS_AT_ONCE).map((id) => run(activities.recordAudience, id));
        try {
          await eventually(async () => ((await chunksWaitingForRows()) === AUDIENCE_CHUNKS_AT_ONCE ? true : undefined), 10_000);
          const waiting = new MockActivityEnvironment();
          const cancelled = waiting.run(activities.recordAudience, ids.at(-1)!);
          waiting.cancel();
          await assert.rejects(cancelled, CancelledFailure);
        } finally {
          await release();
        }
        assert.deepEqual(await Promise.all(blocked), [3, 3]);
        assert.equal(await run(activities.recordAudience, ids.at(-1)!), 3);
      });
    });

    it('records nothing for a mailing deleted meanwhile', async () => {
      const tag = uniqueTag();
      await insertClients(db, 3, { tag });
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false });
      await lifecycle.markDeleted(mailingId);
      assert.equal(await run(activities.recordAudience, mailingId), 0);
      assert.deepEqual(await statuses(mailingId), []);
    });

    it('leaves nothing pending when a delete lands while the audience is being recorded', async () => {
      const tag = uniqueTag();
      await insertClients(db, 3_000, { tag });
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false });
      const recording = (async () => {
        for (let chunk = await recordAudienceChunk(mailingId, 100, anyTime); !chunk.done; chunk = await recordAudienceChunk(mailingId, 100, anyTime));
      })();
      while ((await statuses(mailingId)).length === 0);
      await lifecycle.markDeleted(mailingId);
      await lifecycle.closeDeleted(mailingId);
      await recording;
      const recorded = await statuses(mailingId);
      assert.ok(recorded.length > 0 && recorded.length < 3_000, `${recorded.length} recorded`);
      assert.deepEqual(new Set(recorded), new Set(['cancelled']));
    });

    it("makes each message due when its client's send window first opens, in the client's own zone", async () => {
      const tag = uniqueTag();
      const utcWall = (minutes: number) => DateTime.utc().plus({ minutes }).toFormat('HH:mm');
      // 02:00-04:00 from now, in wall-clock time: open now in Moscow (UTC+3), two hours away in UTC.
      const window = { from: utcWall(120), to: utcWall(240) };
      await insertClients(db, 2, { tag, timezone: 'UTC' });
      await insertClients(db, 2, { tag, timezone: 'Europe/Moscow' });
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false, sendWindow: window, endAt: new Date(Date.now() + 24 * HOUR) });
      const before = Date.now();
      await run(activities.recordAudience, mailingId);
      const rows = await db('messages').join('clients', 'clients.phone_number', 'messages.phone').where({ mailing_id: mailingId }).select('timezone', 'due_at');
      const utcOpens = nextOpening('UTC', window, before).at;
      for (const row of rows) {
        if (row.timezone === 'UTC') assert.equal(row.due_at.getTime(), utcOpens);
        else assert.ok(row.due_at.getTime() <= Date.now(), 'due at once');
      }
      assert.equal(rows.length, 4);
    });

    it('leaves the message of a client whose window never opens before the end due at the end, to expire', async () => {
      const tag = uniqueTag();
      await insertClients(db, 1, { tag, timezone: 'UTC' });
      const endAt = new Date(Date.now() + 30 * 60_000);
      const window = { from: DateTime.utc().plus({ minutes: 120 }).toFormat('HH:mm'), to: DateTime.utc().plus({ minutes: 180 }).toFormat('HH:mm') };
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false, sendWindow: window, endAt });
      await run(activities.recordAudience, mailingId);
      const [message] = await db('messages').where({ mailing_id: mailingId });
      assert.equal(message.due_at.getTime(), endAt.getTime());
    });

    it('gives a client deleted and imported again with the same phone no second message', async () => {
      const tag = uniqueTag();
      const [clientId] = await insertClients(db, 1, { tag });
      const { phone_number: phone } = await db('clients').where({ id: clientId }).first();
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false });
      await run(activities.recordAudience, mailingId);
      await db('clients').where({ id: clientId }).delete();
      await db('clients').insert({ phone_number: phone, mobile_operator_code: phone.slice(1, 4), tag, timezone: 'UTC' });
      await db('mailings').where({ id: mailingId }).update({ audience_done: false, audience_cursor: 0 });
      assert.equal(await run(activities.recordAudience, mailingId), 0);
      const [message] = await db('messages').where({ mailing_id: mailingId });
      assert.equal(message.phone, phone);
    });

    it('after a filter edit adds newly matching clients and cancels the pending messages of those no longer matching', async () => {
      const [before, after] = [uniqueTag(), uniqueTag()];
      await insertClients(db, 2, { tag: before });
      await insertClients(db, 3, { tag: after });
      const mailingId = await insertMailing(db, { filter: { tag: [before] }, audienceDone: false });
      await run(activities.recordAudience, mailingId);
      await db('mailings').where({ id: mailingId }).update({ filter: JSON.stringify({ tag: [after] }), audience_done: false, audience_cursor: 0 });
      await run(activities.recordAudience, mailingId);
      assert.deepEqual((await statuses(mailingId)).sort(), ['cancelled', 'cancelled', 'pending', 'pending', 'pending']);
    });

    it('after a second filter edit gives the clients the first left out and the second takes back their message again', async () => {
      const [a, b] = [uniqueTag(), uniqueTag()];
      await insertClients(db, 2, { tag: a });
      await insertClients(db, 1, { tag: b });
      const mailingId = await insertMailing(db, { filter: { tag: [a] }, audienceDone: false });
      const refilter = async (tags: string[]) => {
        await db('mailings').where({ id: mailingId }).update({ filter: JSON.stringify({ tag: tags }), audience_done: false, audience_cursor: 0 });
        await run(activities.recordAudience, mailingId);
      };
      await run(activities.recordAudience, mailingId);
      await refilter([b]);
      assert.deepEqual((await statuses(mailingId)).sort(), ['cancelled', 'cancelled', 'pending']);
      await refilter([a, b]);
      const messages = await messageStates(db, mailingId);
      assert.deepEqual(
        messages.map((m) => [m.status, m.last_error]),
        [['pending', null], ['pending', null], ['pending', null]],
      );
      assert.equal((await mailingRow(mailingId)).audience_done, true);
    });
  });

  describe('the counts by status', () => {
    const counted = async (mailingId: number) =>
      Object.fromEntries((await db('mailing_counts').where({ mailing_id: mailingId }).where('count', '>', 0)).map((r) => [r.status, Number(r.count)]));
    const actual = async (mailingId: number) =>
      Object.fromEntries((await db('messages').where({ mailing_id: mailingId }).select('status').count('* as n').groupBy('status')).map((r) => [r.status, Number(r.n)]));

    it('of an ended mailing are one row per status, adding up as before', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 4);
      // Outcomes written by two connections land in two shards.
      const [one, two] = [connectDatabase(process.env.DATABASE_URL!), connectDatabase(process.env.DATABASE_URL!)];
      try {
        await one('messages').where({ id: messageIds[0] }).update({ status: 'sent' });
        await two('messages').where({ id: messageIds[1] }).update({ status: 'sent' });
      } finally {
        Model.knex(db);
        await Promise.all([one.destroy(), two.destroy()]);
      }
      assert.equal(await run(activities.finishMailing, mailingId, true), 'expired');
      const shards = await db('mailing_count_shards').where({ mailing_id: mailingId }).orderBy('status').select('status', 'count');
      assert.deepEqual(shards.map((row) => [row.status, Number(row.count)]), [['expired', 2], ['sent', 2]]);
    });

    it('follow every change of the messages: recording, outcomes, expiry, cancellation', async () => {
      const tag = uniqueTag();
      await insertClients(db, 7, { tag });
      const mailingId = await insertMailing(db, { filter: { tag: [tag] }, audienceDone: false });
      await run(activities.recordAudience, mailingId);
      assert.deepEqual(await counted(mailingId), { pending: 7 });
      const ids = (await messageStates(db, mailingId)).map((m) => m.id);
      await db('messages').whereIn('id', ids.slice(0, 3)).update({ status: 'sent' });
      await db('messages').whereIn('id', ids.slice(3, 4)).update({ status: 'failed' });
      await lifecycle.closeDeleted(mailingId);
      assert.deepEqual(await counted(mailingId), await actual(mailingId));
      assert.deepEqual(await counted(mailingId), { sent: 3, failed: 1, cancelled: 3 });
    });

    it('are what the statistics read', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 4);
      await db('messages').where({ id: messageIds[0] }).update({ status: 'sent' });
      const counts = (await countsByMailing([mailingId])).get(mailingId);
      assert.deepEqual(counts, { pending: 3, sent: 1, failed: 0, expired: 0, cancelled: 0 });
    });
  });

  describe('the reconciler', () => {
    it('looks at every mailing that is not final, deleted or not, and at no final one', async () => {
      const open = [await scheduled(), await insertMailing(db), await insertMailing(db, { deletedAt: new Date() })];
      const closed = [await insertMailing(db, { status: 'finished' }), await insertMailing(db, { status: 'cancelled', deletedAt: new Date() })];
      const ids = await lifecycle.openMailingIds(100_000);
      assert.ok(open.every((id) => ids.includes(id)));
      assert.ok(closed.every((id) => !ids.includes(id)));
    });

    it('reads a page of open mailings after the id it is given, in id order', async () => {
      const open = [await scheduled(), await insertMailing(db), await scheduled()];
      assert.deepEqual(await lifecycle.openMailingIds(2, open[0]), open.slice(1));
      assert.deepEqual(await lifecycle.openMailingIds(2, open[2]), []);
    });
  });
});
