import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DateTime } from 'luxon';
import { Model } from 'objection';
import type { BatchReport } from '../../activities/mailing';
import type { RateLimiter } from '../../activities/rate-limit';
import type { Provider } from '../../activities/provider';
import { nextOpening } from '../../activities/send-window';
import type { FakeProvider } from '../../stack/fake-provider';
import type { Database } from '../../storage/database';
import { claimDue, closePending, recordOutcomes, releaseLeases, type SendOutcome } from '../../storage/messages';
import { insertClients, insertMailing, insertMessages, mailingWithDueMessages, messageStates, uniqueTag } from './fixtures';
import { POLICY, SECOND, timed, useSendBatch } from './send-batch-harness';

describe('sendBatch activity', function () {
  const world = useSendBatch();
  const { activitiesWith, sendBatch } = world;
  let db: Database;
  let fake: FakeProvider;
  let client: Provider;
  before(() => ({ db, fake, client } = world));

  describe('batch after batch of one mailing on one worker (one request at a time)', () => {
    it('starts each batch where the last left off, and sends what came due behind it once the end is reached', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 6);
      let refused = false;
      // The first message is refused once and is due again at once, behind the batches' front.
      const refusingFirstOnce: Provider = {
        send: async (message, signal) => {
          if (message.id !== messageIds[0] || refused) return client.send(message, signal);
          refused = true;
          return { result: 'retry', error: 'provider answered 503' };
        },
        close: async () => undefined,
      };
      const spy = timed(refusingFirstOnce);
      const activities = activitiesWith({ provider: spy.provider, policy: { concurrency: 1, retryInitialMs: 1, retryMaxMs: 1 } });
      for (let batch = 0; batch < 3; batch++) await sendBatch(mailingId, 3, activities);
      assert.deepEqual(
        spy.starts.map((start) => messageIds.indexOf(start.id)),
        [0, 1, 2, 3, 4, 5, 0],
      );
      assert.deepEqual((await messageStates(db, mailingId)).map((m) => m.status), Array(6).fill('sent'));
    });
  });

  describe('with a provider that accepts everything', () => {
    it("lets go of the signal its requests were given once it is done (it would live until the mailing's end)", async () => {
      const { mailingId } = await mailingWithDueMessages(db, 3);
      const signals: AbortSignal[] = [];
      const noting: Provider = { send: (message, signal) => (signals.push(signal), client.send(message, signal)), close: async () => undefined };
      assert.equal((await sendBatch(mailingId, 1000, activitiesWith({ provider: noting }))).sent, 3);
      assert.ok(signals.length === 3 && signals.every((signal) => signal.aborted));
    });

    it('sends every due message exactly once', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 10);
      await sendBatch(mailingId);
      assert.deepEqual(
        [...fake.countsByMsgId()].sort(([a], [b]) => a - b),
        messageIds.map((id) => [id, 1]),
      );
    });

    it('sends the mailing text to the phone of each message', async () => {
      const mailingId = await insertMailing(db, { text: 'Sale today only' });
      const [clientId] = await insertClients(db, 1);
      const [messageId] = await insertMessages(db, mailingId, [clientId]);
      await sendBatch(mailingId);
      const { phone_number } = await db('clients').where({ id: clientId }).first();
      const [{ msgId, phone, text }] = fake.received();
      assert.deepEqual({ msgId, phone, text }, { msgId: messageId, phone: Number(phone_number), text: 'Sale today only' });
    });

    it('records each message as sent with attempts 1 and a sent_at', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 5);
      const before = Date.now();
      await sendBatch(mailingId);
      for (const message of await messageStates(db, mailingId)) {
        assert.equal(message.status, 'sent');
        assert.equal(message.attempts, 1);
        assert.equal(message.last_error, null);
        assert.equal(message.lease_until, null);
        assert.ok(message.sent_at && message.sent_at.getTime() >= before - SECOND && message.sent_at.getTime() <= Date.now() + SECOND);
      }
    });

    it('reports what it did, with nothing left pending and no next due time', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 6);
      assert.deepEqual(await sendBatch(mailingId), {
        attempted: 6,
        sent: 6,
        failed: 0,
        retried: 0,
        providerDown: false,
        ended: false,
        stale: false,
        pending: 0,
        nextDueAt: null,
      });
    });

    it('sends no more than `limit` messages', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 10);
      const report = await sendBatch(mailingId, 3);
      assert.equal(report.attempted, 3);
      assert.equal(fake.received().length, 3);
    });

    it('does not send messages that are not yet due', async () => {
      const mailingId = await insertMailing(db);
      const due = await insertMessages(db, mailingId, await insertClients(db, 2));
      const later = await insertMessages(db, mailingId, await insertClients(db, 2), new Date(Date.now() + 3600 * SECOND));
      await sendBatch(mailingId);
      assert.deepEqual(fake.received().map((r) => r.msgId).sort((a, b) => a - b), due);
      const states = await messageStates(db, mailingId);
      for (const id of later) assert.deepEqual(
        (({ status, attempts }) => ({ status, attempts }))(states.find((m) => m.id === id)!),
        { status: 'pending', attempts: 0 },
      );
    });

    it('reports the messages left pending, and no next due time when it sent (the next batch starts at once)', async () => {
      const dueAt = new Date(Date.now() - 5 * SECOND);
      const laterAt = new Date(Date.now() + 3600 * SECOND);
      const mailingId = await insertMailing(db);
      await insertMessages(db, mailingId, await insertClients(db, 3), dueAt);
      await insertMessages(db, mailingId, await insertClients(db, 2), laterAt);
      const report = await sendBatch(mailingId, 2);
      assert.deepEqual({ sent: report.sent, pending: report.pending, nextDueAt: report.nextDueAt }, { sent: 2, pending: 3, nextDueAt: null });
    });

    it('reports the due time of messages not yet due as the next due time', async () => {
      const laterAt = new Date(Date.now() + 3600 * SECOND);
      const mailingId = await insertMailing(db);
      await insertMessages(db, mailingId, await insertClients(db, 2), laterAt);
      const report = await sendBatch(mailingId);
      assert.deepEqual({ attempted: report.attempted, pending: report.pending, nextDueAt: report.nextDueAt }, {
        attempted: 0,
        pending: 2,
        nextDueAt: laterAt.toISOString(),
      });
    });

    it('cancels, without a request, a message whose client was deleted', async () => {
      const mailingId = await insertMailing(db);
      const [clientId] = await insertClients(db, 1);
      await insertMessages(db, mailingId, [clientId]);
      await db('clients').where({ id: clientId }).delete();
      await sendBatch(mailingId);
      assert.equal(fake.received().length, 0);
      const [message] = await messageStates(db, mailingId);
      assert.equal(message.status, 'cancelled');
      assert.match(message.last_error!, /client was deleted/);
    });

    it('cancels, without a request, the messages of clients the filter no longer matches, and sends the rest', async () => {
      const [kept, dropped] = [uniqueTag(), uniqueTag()];
      const mailingId = await insertMailing(db, { filter: { tag: [kept] } });
      const keptIds = await insertClients(db, 2, { tag: kept });
      const droppedIds = await insertClients(db, 3, { tag: dropped });
      const messageIds = await insertMessages(db, mailingId, [...keptIds, ...droppedIds]);
      const report = await sendBatch(mailingId);
      assert.equal(report.attempted, 2);
      assert.deepEqual(fake.received().map((r) => r.msgId).sort(), messageIds.slice(0, 2).sort());
      const states = new Map((await messageStates(db, mailingId)).map((m) => [m.id, [m.status, m.last_error, m.attempts]]));
      assert.deepEqual(
        messageIds.map((id) => states.get(id)),
        [['sent', null, 1], ['sent', null, 1], ...droppedIds.map(() => ['cancelled', 'client no longer matches the mailing filter', 0])],
      );
    });

    it("judges a claimed message's client by the mailing's filter as stored when it claims, not as the batch last read it", async () => {
      const [a, b] = [uniqueTag(), uniqueTag()];
      const mailingId = await insertMailing(db, { filter: { tag: [a] } });
      const clientIds = [...(await insertClients(db, 1, { tag: a })), ...(await insertClients(db, 1, { tag: b }))];
      await insertMessages(db, mailingId, clientIds);
      const leftOut = async () => {
        const claim = await claimDue(mailingId, 10, 60 * SECOND);
        await releaseLeases(claim.token, claim.messages.map((m) => m.id));
        return claim.messages.map((m) => m.leftOut);
      };
      assert.deepEqual(await leftOut(), [false, true]);
      await db('mailings').where({ id: mailingId }).update({ filter: JSON.stringify({ tag: [a, b] }) });
      assert.deepEqual(await leftOut(), [false, false]);
    });

    it('sends nothing for a deleted mailing', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 3, { deletedAt: new Date() });
      const report = await sendBatch(mailingId);
      assert.equal(report.attempted, 0);
      assert.equal(fake.received().length, 0);
      assert.deepEqual((await messageStates(db, mailingId)).map((m) => m.status), ['pending', 'pending', 'pending']);
    });

    it('sends nothing for a mailing whose end time has passed', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 3, { startAt: new Date(Date.now() - 7200 * SECOND), endAt: new Date(Date.now() - 1) });
      const report = await sendBatch(mailingId);
      assert.equal(report.attempted, 0);
      assert.equal(fake.received().length, 0);
    });

    it('never sends the same message twice when two batches run at the same time', async () => {
      fake.setFaults({ latencyMs: { min: 0, max: 20 } });
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 60);
      // Two workers: each with its own activities (and request slots) and its own activity context.
      const [a, b] = await Promise.all([
        sendBatch(mailingId, 1000, activitiesWith()),
        sendBatch(mailingId, 1000, activitiesWith()),
      ]);
      assert.ok(a.attempted > 0 && b.attempted > 0, `both batches took part (${a.attempted} + ${b.attempted})`);
      assert.equal(a.sent + b.sent, 60);
      const counts = fake.countsByMsgId();
      assert.deepEqual([...counts.keys()].sort((x, y) => x - y), messageIds);
      assert.deepEqual([...new Set(counts.values())], [1]);
    });

    it('sends the messages of a mailing that ends more than 25 days from now', async () => {
      // Node clamps a timer above 2^31-1 ms (~24.8 days) to 1 ms: a per-request deadline built from
      // end_at with AbortSignal.timeout() would abandon every request at once.
      const { mailingId } = await mailingWithDueMessages(db, 2, { endAt: new Date(Date.now() + 30 * 24 * 3600 * SECOND) });
      const report = await sendBatch(mailingId);
      assert.equal(report.sent, 2);
    });

    it('sends the messages of a mailing that ends more than 50 days from now', async () => {
      // AbortSignal.timeout() throws ERR_OUT_OF_RANGE above 2^32-1 ms (~49.7 days).
      const { mailingId } = await mailingWithDueMessages(db, 2, { endAt: new Date(Date.now() + 60 * 24 * 3600 * SECOND) });
      const report = await sendBatch(mailingId);
      assert.equal(report.sent, 2);
    });
  });

  describe('when the provider answers', () => {
    async function oneMessageSentThrough(faults: Parameters<FakeProvider['setFaults']>[0]) {
      fake.setFaults(faults);
      const { mailingId } = await mailingWithDueMessages(db, 1);
      const before = Date.now();
      const report = await sendBatch(mailingId);
      const after = Date.now();
      const [message] = await messageStates(db, mailingId);
      return { report, message, before, after };
    }

    it('5xx, the message stays pending with the error, attempts 1 and a backoff due_at', async () => {
      const { message, before, after } = await oneMessageSentThrough({ errorRate: 1, errorStatus: 503 });
      assert.equal(message.status, 'pending');
      assert.equal(message.attempts, 1);
      assert.equal(message.last_error, 'provider answered 503');
      assert.equal(message.sent_at, null);
      // First retry: full jitter over the upper half of retryInitialMs.
      const delay = message.due_at.getTime();
      assert.ok(delay >= before + POLICY.retryInitialMs / 2 && delay <= after + POLICY.retryInitialMs, `due in ${delay - after} ms`);
    });

    it('5xx, the report counts a retry and the message as pending, due later', async () => {
      const { report, message, after } = await oneMessageSentThrough({ errorRate: 1, errorStatus: 500 });
      assert.ok(message.due_at.getTime() > after, 'due later');
      assert.deepEqual(report, {
        attempted: 1,
        sent: 0,
        failed: 0,
        retried: 1,
        providerDown: false,
        ended: false,
        stale: false,
        pending: 1,
        nextDueAt: null,
      });
    });

    it('429 with Retry-After 5, the message is due again about 5 s later', async () => {
      const { message, before, after } = await oneMessageSentThrough({ rateLimit: { rate: 1, retryAfterSec: 5 } });
      assert.equal(message.status, 'pending');
      assert.equal(message.last_error, 'provider rate limit (429)');
      const dueAt = message.due_at.getTime();
      assert.ok(dueAt >= before + 5 * SECOND && dueAt <= after + 5 * SECOND, `due ${dueAt - after} ms after the batch`);
    });

    it('400, the message is failed with the error', async () => {
      const { report, message } = await oneMessageSentThrough({ clientErrorRate: 1, clientErrorStatus: 400 });
      assert.equal(report.failed, 1);
      assert.equal(message.status, 'failed');
      assert.equal(message.attempts, 1);
      assert.match(message.last_error!, /refused the message \(400\)/);
    });
  });

  describe('with a provider answering in 200 ms, one request at a time', () => {
    beforeEach(() => fake.setFaults({ latencyMs: 200 }));

    it('reports back once its time limit has passed, before its limit, leaving the rest pending and claimable', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 20);
      const report = await sendBatch(mailingId, 20, activitiesWith({ policy: { concurrency: 1, batchTimeLimitMs: 500 } }));
      assert.ok(report.attempted >= 1 && report.attempted <= 4, `attempted ${report.attempted}`);
      assert.deepEqual([report.sent, report.pending], [report.attempted, 20 - report.attempted]);
      assert.equal((await claimDue(mailingId, 20, 60 * SECOND)).messages.length, 20 - report.attempted);
    });

    it('starts one request even when its time limit is over before its first, so that it never looks like a batch with nothing due', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 5);
      const report = await sendBatch(mailingId, 5, activitiesWith({ policy: { concurrency: 1, batchTimeLimitMs: 0 } }));
      assert.deepEqual([report.attempted, report.sent, report.pending], [1, 1, 4]);
    });
  });

  describe('near the end of the mailing (end_at 1.4 s ahead, 400 ms per answer, 2 requests at a time)', () => {
    const LATENCY = 400;
    let starts: { id: number; at: number }[];
    let endAt: number;
    let returnedAt: number;
    let mailingId: number;
    let report: BatchReport;

    before(async () => {
      Model.knex(db);
      fake.reset();
      fake.setFaults({ latencyMs: LATENCY });
      ({ mailingId } = await mailingWithDueMessages(db, 40));
      // Set last, so that the four rounds of requests fit before end_at, the fourth in flight across it.
      endAt = Date.now() + 1400;
      await db('mailings').where({ id: mailingId }).update({ end_at: new Date(endAt) });
      const spy = timed(client);
      starts = spy.starts;
      report = await sendBatch(mailingId, 1000, activitiesWith({ provider: spy.provider, policy: { concurrency: 2 } }));
      returnedAt = Date.now();
    });

    it('starts requests until shortly before the end', () => {
      assert.ok(starts.length >= 4 && starts.length < 40, `${starts.length} requests`);
      assert.ok(Math.max(...starts.map((s) => s.at)) > endAt - LATENCY, 'the last request started within one answer time of the end');
    });

    it('starts no request at or after end_at', () => {
      const late = starts.filter((s) => s.at >= endAt);
      assert.deepEqual(late, []);
    });

    it('abandons the requests still in flight at end_at instead of waiting for their answers', () => {
      assert.ok(returnedAt - endAt < LATENCY / 2, `returned ${returnedAt - endAt} ms after end_at`);
    });

    it('leaves the messages whose requests were abandoned pending, with the abandonment as their error', async () => {
      const states = new Map((await messageStates(db, mailingId)).map((m) => [m.id, m]));
      const inFlightAtEnd = starts.filter((s) => s.at + LATENCY > endAt + 50);
      assert.ok(inFlightAtEnd.length > 0, 'some requests were in flight at end_at');
      for (const { id } of inFlightAtEnd) {
        const message = states.get(id)!;
        assert.equal(message.status, 'pending');
        assert.match(message.last_error!, /^request abandoned/);
      }
      assert.ok(report.retried >= inFlightAtEnd.length);
    });

    it('gives back the messages it claimed but did not start', async () => {
      const leased = (await messageStates(db, mailingId)).filter((m) => m.lease_until !== null);
      assert.deepEqual(leased, []);
    });
  });

  describe('at end_at', () => {
    it('starts no request after end_at even when the process was busy across it', async () => {
      const endAt = Date.now() + 300;
      const { mailingId } = await mailingWithDueMessages(db, 3, { endAt: new Date(endAt) });
      const spy = timed(client);
      // The token comes 20 ms before end_at, and the process is then busy (GC, CPU) until 10 ms after it.
      const lateToken: RateLimiter = {
        async acquire() {
          await sleep(Math.max(0, endAt - 20 - Date.now()));
          while (Date.now() < endAt + 10);
        },
      };
      await sendBatch(mailingId, 1000, activitiesWith({ provider: spy.provider, rateLimiter: lateToken }));
      assert.deepEqual(spy.starts.filter((s) => s.at >= endAt), []);
    });
  });

  describe('when end_at is moved earlier while it sends (one rate token every 300 ms)', () => {
    it('starts none of the messages it already claimed after the new end', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 20);
      const spy = timed(client);
      const slowTokens: RateLimiter = { acquire: () => sleep(300) };
      const running = sendBatch(mailingId, 1000, activitiesWith({ provider: spy.provider, rateLimiter: slowTokens, policy: { concurrency: 8 } }));
      while (spy.starts.length === 0) await sleep(5);
      const newEnd = Date.now() + 1200;
      await db('mailings').where({ id: mailingId }).update({ end_at: new Date(newEnd) });
      await running;
      assert.ok(spy.starts.length >= 3, `${spy.starts.length} requests`);
      assert.deepEqual(spy.starts.filter((s) => s.at >= newEnd), []);
    });
  });

  describe('with a send window (clients in Europe/Moscow)', () => {
    /** The wall-clock time in Moscow `minutes` from now, as HH:MM. */
    const moscowIn = (minutes: number) => DateTime.now().setZone('Europe/Moscow').plus({ minutes }).toFormat('HH:mm');

    it('sends to a client whose local time is inside the window', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 2, { sendWindow: { from: moscowIn(-60), to: moscowIn(60) } });
      assert.equal((await sendBatch(mailingId)).sent, 2);
    });

    it('sends nothing to a client outside the window, and makes its message due when the window opens', async () => {
      const window = { from: moscowIn(120), to: moscowIn(180) };
      const { mailingId } = await mailingWithDueMessages(db, 2, { sendWindow: window });
      const report = await sendBatch(mailingId);
      assert.equal(fake.received().length, 0);
      assert.equal(report.attempted, 0);
      const opens = nextOpening('Europe/Moscow', window, Date.now()).at;
      for (const message of await messageStates(db, mailingId)) {
        assert.deepEqual([message.status, message.attempts, message.due_at.getTime()], ['pending', 0, opens]);
      }
      assert.equal(report.nextDueAt, new Date(opens).toISOString());
    });

    it('starts no request whose window closed while it waited for a rate token, and makes its message due at the next opening', async () => {
      // The window closes at the next minute boundary at least 3 s away: this test lasts up to a minute.
      let closesAt = Math.ceil(Date.now() / 60_000) * 60_000;
      if (closesAt - Date.now() < 3 * SECOND) closesAt += 60_000;
      const moscowAt = (ms: number) => DateTime.fromMillis(ms).setZone('Europe/Moscow').toFormat('HH:mm');
      const window = { from: moscowAt(closesAt - 3_600_000), to: moscowAt(closesAt) };
      const { mailingId } = await mailingWithDueMessages(db, 1, { sendWindow: window, endAt: new Date(Date.now() + 3 * 24 * 3600 * SECOND) });
      const spy = timed(client);
      const tokenAfterClose: RateLimiter = { acquire: () => sleep(Math.max(0, closesAt + 200 - Date.now())) };
      // Requests that may take long enough for the claim to outlive the wait.
      await sendBatch(mailingId, 1000, activitiesWith({ provider: spy.provider, rateLimiter: tokenAfterClose, policy: { concurrency: 1, requestTimeoutMs: 120 * SECOND } }));
      assert.deepEqual(spy.starts, []);
      const [message] = await messageStates(db, mailingId);
      assert.deepEqual([message.status, message.attempts], ['pending', 0]);
      assert.equal(message.due_at.getTime(), nextOpening('Europe/Moscow', window, closesAt + 200).at);
    });

    it('makes a retry that would fall after the window closes wait for its next opening', async () => {
      fake.setFaults({ rateLimit: { rate: 1, retryAfterSec: 600 } });
      const window = { from: moscowIn(-60), to: moscowIn(3) };
      const { mailingId } = await mailingWithDueMessages(db, 1, { sendWindow: window, endAt: new Date(Date.now() + 3 * 24 * 3600 * SECOND) });
      await sendBatch(mailingId);
      const [message] = await messageStates(db, mailingId);
      assert.equal(message.status, 'pending');
      assert.equal(message.due_at.getTime(), nextOpening('Europe/Moscow', window, Date.now() + 600 * SECOND).at);
      assert.ok(message.due_at.getTime() > Date.now() + 20 * 3600 * SECOND, 'the next day');
    });
  });

  describe('a claim', () => {
    const outcome = (id: number, fields: Partial<SendOutcome> = {}): SendOutcome => ({ id, status: 'sent', error: null, retryAt: null, attempted: true, ...fields });

    it('whose lease was taken over writes nothing: the new holder does', async () => {
      const { mailingId, messageIds: [id] } = await mailingWithDueMessages(db, 1);
      const first = await claimDue(mailingId, 10, 1);
      await sleep(20);
      const second = await claimDue(mailingId, 10, 60 * SECOND);
      assert.deepEqual(second.messages.map((m) => m.id), [id]);
      await recordOutcomes(first.token, [outcome(id, { status: 'failed', error: 'a late answer' })]);
      const [held] = await messageStates(db, mailingId);
      assert.deepEqual([held.status, held.attempts, held.lease_until !== null], ['pending', 0, true]);
      await recordOutcomes(second.token, [outcome(id)]);
      assert.equal((await messageStates(db, mailingId))[0].status, 'sent');
    });

    it('never turns a message expired meanwhile into sent', async () => {
      const { mailingId, messageIds: [id] } = await mailingWithDueMessages(db, 1);
      const claim = await claimDue(mailingId, 10, 60 * SECOND);
      await closePending(mailingId, 'expired', 'the mailing ended');
      await recordOutcomes(claim.token, [outcome(id)]);
      assert.equal((await messageStates(db, mailingId))[0].status, 'expired');
    });

    it('stores a provider answer with a NUL byte without it, and the other outcomes of the same write too', async () => {
      const { mailingId, messageIds: [a, b] } = await mailingWithDueMessages(db, 2);
      const claim = await claimDue(mailingId, 10, 60 * SECOND);
      await recordOutcomes(claim.token, [outcome(a, { status: 'failed', error: 'refused (400): bad\u0000body' }), outcome(b)]);
      const [first, second] = await messageStates(db, mailingId);
      assert.deepEqual([first.status, first.last_error, second.status], ['failed', 'refused (400): badbody', 'sent']);
    });

    it('stores an outcome whose retry time is no time (an Invalid Date) as due as it was, and the other outcomes of the same write too', async () => {
      const { mailingId, messageIds: [a, b, c] } = await mailingWithDueMessages(db, 3);
      const claim = await claimDue(mailingId, 10, 60 * SECOND);
      const [dueBefore] = (await messageStates(db, mailingId)).slice(1).map((m) => m.due_at.getTime());
      const notWritten = await recordOutcomes(claim.token, [
        outcome(a),
        outcome(b, { status: 'pending', error: 'provider rate limit (429)', retryAt: new Date(Date.now() + 1e16) }),
        outcome(c),
      ]);
      assert.equal(notWritten, 0, 'every outcome found its claim');
      const states = await messageStates(db, mailingId);
      assert.deepEqual(
        states.map((m) => [m.status, m.lease_until]),
        [['sent', null], ['pending', null], ['sent', null]],
      );
      assert.deepEqual([states[1].last_error, states[1].due_at.getTime()], ['provider rate limit (429)', dueBefore]);
    });

    it('bounds the stored provider text', async () => {
      const { mailingId, messageIds: [id] } = await mailingWithDueMessages(db, 1);
      const claim = await claimDue(mailingId, 10, 60 * SECOND);
      await recordOutcomes(claim.token, [outcome(id, { status: 'failed', error: 'x'.repeat(100_000) })]);
      assert.ok((await messageStates(db, mailingId))[0].last_error!.length <= 500);
    });
  });

  describe('a retry', () => {
    it('is never due after the last moment its message could still be sent', async () => {
      fake.setFaults({ errorRate: 1, errorStatus: 503 });
      const endAt = Date.now() + 20 * SECOND;
      const { mailingId, messageIds: [id] } = await mailingWithDueMessages(db, 1, { endAt: new Date(endAt) });
      // Ten failures so far: its own backoff would be minutes.
      await db('messages').where({ id }).update({ attempts: 10 });
      await sendBatch(mailingId, 1000, activitiesWith({ policy: { retryInitialMs: SECOND, retryMaxMs: 600 * SECOND } }));
      const [message] = await messageStates(db, mailingId);
      assert.equal(message.status, 'pending');
      assert.ok(message.due_at.getTime() <= endAt - POLICY.requestTimeoutMs, `due ${message.due_at.getTime() - endAt} ms from the end`);
    });
  });

  describe('outcomes', () => {
    it('are recorded within a second of their answer, even while the batch waits to start its next request', async () => {
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 2);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let granted = 0;
      // The first token comes at once, the second only when the test opens the gate.
      const slow: RateLimiter = { acquire: async () => (granted++ === 0 ? undefined : gate) };
      const running = sendBatch(mailingId, 1000, activitiesWith({ rateLimiter: slow, policy: { concurrency: 2 } }));
      try {
        while (fake.received().length === 0) await sleep(5);
        const answeredAt = Date.now();
        let status: string;
        do {
          await sleep(20);
          ({ status } = await db('messages').where({ id: messageIds[0] }).first());
        } while (status !== 'sent' && Date.now() - answeredAt < SECOND);
        assert.equal(status, 'sent', 'the answer of the first message is still unrecorded after a second');
      } finally {
        open();
        await running;
      }
    });
  });

  describe('claimed messages', () => {
    it("are leased past their last request's end by the whole time its answer may take to be written (a database restart)", async () => {
      const { mailingId } = await mailingWithDueMessages(db, 1);
      let leaseLeftMs = 0;
      const measuring: Provider = {
        async send(message, signal) {
          leaseLeftMs = Number((await db.raw('SELECT extract(epoch FROM lease_until - now()) * 1000 AS ms FROM messages WHERE id = ?', [message.id])).rows[0].ms);
          return client.send(message, signal);
        },
        close: async () => undefined,
      };
      const outcomeTimes = { flushIntervalMs: 50, retryDelayMs: 1_000, attempts: 30 };
      await sendBatch(mailingId, 1000, activitiesWith({ provider: measuring, outcomeTimes }));
      // The last request may start up to requestTimeoutMs + 4 s after the claim (its claim's time to live).
      const needed = 4 * SECOND + 2 * POLICY.requestTimeoutMs + outcomeTimes.flushIntervalMs + outcomeTimes.attempts * outcomeTimes.retryDelayMs;
      assert.ok(leaseLeftMs >= needed, `${leaseLeftMs} ms of lease left at the first request, ${needed} needed`);
    });

    it('are not sent once their lease ran out while they waited for a rate token', async function () {
      // The lease covers a request's time and the writing of its answer: short ones, as waiting it out is the slow part of this test.
      this.timeout(60_000);
      const policy = { concurrency: 2, requestTimeoutMs: 100 };
      const outcomeTimes = { retryDelayMs: 100, attempts: 3 };
      const { mailingId, messageIds } = await mailingWithDueMessages(db, 2);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let asked = 0;
      // No token until the test opens the gate.
      const closed: RateLimiter = { acquire: () => (asked++, gate) };
      const first = sendBatch(mailingId, 1000, activitiesWith({ rateLimiter: closed, policy, outcomeTimes }));
      const expired = async () => (await db.raw('SELECT bool_and(lease_until < now()) AS expired FROM messages WHERE mailing_id = ?', [mailingId])).rows[0].expired;
      while (asked === 0) await sleep(10);
      while (!(await expired())) await sleep(100);
      // The leases ran out: another batch (say on another worker) may now take the messages, and does.
      const second = await sendBatch(mailingId, 1000, activitiesWith({ policy, outcomeTimes }));
      assert.equal(second.sent, 2);
      open();
      await first;
      assert.deepEqual([...fake.countsByMsgId()].sort(([a], [b]) => a - b), messageIds.map((id) => [id, 1]));
    });
  });

});
