import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { MockActivityEnvironment } from '@temporalio/testing';
import knex from 'knex';
import { Model } from 'objection';
import type { BatchReport } from '../../activities/mailing';
import { createProvider, type Provider } from '../../activities/provider';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';
import type { Database } from '../../storage/database';
import { claimDue } from '../../storage/messages';
import { mailingWithDueMessages, messageStates } from './fixtures';
import { POLICY, SECOND, TOKEN, timed, useSendBatch } from './send-batch-harness';

describe('sendBatch activity, stopping', function () {
  const world = useSendBatch();
  const { activitiesWith, sendBatch, environment } = world;
  let db: Database;
  let fake: FakeProvider;
  let client: Provider;
  before(() => ({ db, fake, client } = world));

  describe('fails for good, with no retry', () => {
    const nonRetryable = (type: string) => (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure, String(error));
      assert.deepEqual([error.type, error.nonRetryable], [type, true]);
      return true;
    };

    it('when its mailing does not exist', async () => {
      await assert.rejects(sendBatch(2 ** 40), nonRetryable('MailingNotFound'));
    });

    it('when no request can be made (a token no header may carry), leaving the messages pending', async () => {
      const misconfigured = createProvider({ url: fake.url, token: 'line\nbreak', timeoutMs: POLICY.requestTimeoutMs, connections: 1 });
      try {
        const { mailingId } = await mailingWithDueMessages(db, 5);
        await assert.rejects(sendBatch(mailingId, 1000, activitiesWith({ provider: misconfigured })), nonRetryable('ProviderMisconfigured'));
        assert.deepEqual(new Set((await messageStates(db, mailingId)).map((m) => m.status)), new Set(['pending']));
        assert.equal(fake.received().length, 0);
      } finally {
        await misconfigured.close();
      }
    });
  });

  describe('after a failure', () => {
    it('stops heartbeating once it has failed to read its mailing', async () => {
      const unreachable = knex({
        client: 'pg',
        connection: 'postgres://nobody:none@127.0.0.1:1/none',
        pool: { min: 0, max: 1 },
        log: { error: () => undefined, warn: () => undefined },
      });
      try {
        Model.knex(unreachable);
        const env = environment();
        let beats = 0;
        env.on('heartbeat', () => beats++);
        await assert.rejects(env.run(activitiesWith().sendBatch, 1, 10));
        const beatsAtFailure = beats;
        await sleep(1300);
        assert.equal(beats - beatsAtFailure, 0);
      } finally {
        await unreachable.destroy();
      }
    });
  });

  /**
   * A batch of 40 due messages, 2 requests at a time, each answered in `latency`, cancelled (by default
   * as a workflow's request) while requests are in flight.
   */
  async function cancelledMidway(latency: number, cancellation: () => Parameters<MockActivityEnvironment['cancel']> = () => []) {
    Model.knex(db);
    fake.reset();
    fake.setFaults({ latencyMs: latency });
    const { mailingId } = await mailingWithDueMessages(db, 40);
    const spy = timed(client);
    const env = environment();
    const running = sendBatch(mailingId, 1000, activitiesWith({ provider: spy.provider, policy: { concurrency: 2 } }), env);
    await sleep(latency * 2 + 100);
    const cancelledAt = Date.now();
    env.cancel(...cancellation());
    const [outcome] = await Promise.allSettled([running]);
    return { starts: spy.starts, cancelledAt, outcome, settledAt: Date.now(), mailingId };
  }

  describe('when cancelled (250 ms per answer, 2 requests at a time)', () => {
    const LATENCY = 250;
    let starts: { id: number; at: number }[];
    let cancelledAt: number;
    let settledAt: number;
    let outcome: PromiseSettledResult<BatchReport>;
    let mailingId: number;

    before(async () => {
      ({ starts, cancelledAt, outcome, settledAt, mailingId } = await cancelledMidway(LATENCY));
    });

    it('starts no request after the cancellation', () => {
      assert.ok(starts.length >= 2, 'requests were under way');
      assert.deepEqual(starts.filter((s) => s.at > cancelledAt), []);
    });

    it('abandons the requests in flight at once', () => {
      assert.ok(settledAt - cancelledAt < LATENCY / 2, `settled ${settledAt - cancelledAt} ms after the cancellation`);
    });

    it('ends as cancelled', () => {
      assert.equal(outcome.status, 'rejected');
      assert.ok((outcome as PromiseRejectedResult).reason instanceof CancelledFailure, String((outcome as PromiseRejectedResult).reason));
    });

    it('leaves every message it did not send pending and claimable', async () => {
      const unsent = (await messageStates(db, mailingId)).filter((m) => m.status !== 'sent');
      assert.ok(unsent.length > 30);
      assert.deepEqual(unsent.filter((m) => m.status !== 'pending' || m.lease_until !== null), []);
    });
  });

  describe('when cancelled because its workflow is gone (terminated; 250 ms per answer, 2 requests at a time)', () => {
    const LATENCY = 250;
    let starts: { id: number; at: number }[];
    let cancelledAt: number;
    let outcome: PromiseSettledResult<BatchReport>;
    let mailingId: number;

    before(async () => {
      ({ starts, cancelledAt, outcome, mailingId } = await cancelledMidway(LATENCY, () => ['NOT_FOUND', new ActivityCancellationDetails({ notFound: true })]));
    });

    it('starts no request after the cancellation', () => {
      assert.deepEqual(starts.filter((s) => s.at > cancelledAt), []);
    });

    it('lets the requests in flight finish and records them as sent, so that the run carrying on sends them to nobody again', async () => {
      const inFlight = starts.slice(-2).map((s) => s.id);
      const states = await messageStates(db, mailingId);
      assert.deepEqual(inFlight.map((id) => states.find((m) => m.id === id)!.status), ['sent', 'sent']);
      assert.equal(states.filter((m) => m.status === 'sent').length, starts.length);
    });

    it('ends as cancelled', () => {
      assert.equal(outcome.status, 'rejected');
      assert.ok((outcome as PromiseRejectedResult).reason instanceof CancelledFailure, String((outcome as PromiseRejectedResult).reason));
    });
  });

  /** A batch of 40 messages, 2 requests at a time, whose mailing is changed midway in the database alone: no cancellation reaches it. */
  async function changedMidway(latency: number, change: (mailingId: number) => Promise<unknown>) {
    Model.knex(db);
    fake.reset();
    fake.setFaults({ latencyMs: latency });
    const { mailingId } = await mailingWithDueMessages(db, 40);
    const spy = timed(client);
    const running = sendBatch(mailingId, 1000, activitiesWith({ provider: spy.provider, policy: { concurrency: 2 } }));
    await sleep(300);
    const changedAt = Date.now();
    await change(mailingId);
    const report = await running;
    return { starts: spy.starts, changedAt, endedAt: Date.now(), report, mailingId };
  }

  describe('when its mailing is deleted while it sends, and no cancellation comes (5 s per answer, 2 requests at a time)', () => {
    const LATENCY = 5 * SECOND;
    let result: Awaited<ReturnType<typeof changedMidway>>;

    before(async () => {
      result = await changedMidway(LATENCY, (id) => db('mailings').where({ id }).update({ deleted_at: db.fn.now() }));
    });

    it('ends by itself, reporting that its mailing changed', () => {
      assert.equal(result.report.stale, true);
    });

    it('abandons the requests in flight within about a second instead of waiting for their answers', async () => {
      assert.ok(result.endedAt - result.changedAt < LATENCY / 2, `ended ${result.endedAt - result.changedAt} ms after the delete`);
      const states = await messageStates(db, result.mailingId);
      const inFlight = result.starts.map((s) => states.find((m) => m.id === s.id)!);
      assert.deepEqual(
        inFlight.map((m) => [m.status, m.last_error?.startsWith('request abandoned')]),
        result.starts.map(() => ['pending', true]),
      );
    });
  });

  describe('when its mailing is paused while it sends, and no cancellation comes (250 ms per answer, 2 requests at a time)', () => {
    let result: Awaited<ReturnType<typeof changedMidway>>;

    before(async () => {
      result = await changedMidway(250, (id) => db('mailings').where({ id }).update({ status: 'paused' }));
    });

    it('ends by itself within about a second, reporting that its mailing changed', () => {
      assert.equal(result.report.stale, true);
      assert.ok(result.endedAt - result.changedAt < 2.5 * SECOND, `ended ${result.endedAt - result.changedAt} ms after the pause`);
    });

    it('lets the requests in flight finish and records them as sent', async () => {
      const states = await messageStates(db, result.mailingId);
      assert.equal(states.filter((m) => m.status === 'sent').length, result.starts.length);
    });
  });

  describe('during a provider outage (connections refused)', () => {
    let down: FakeProvider;
    let downClient: Provider;

    before(async () => {
      down = await startFakeProvider({ token: TOKEN });
      downClient = createProvider({ url: down.url, token: TOKEN, timeoutMs: POLICY.requestTimeoutMs, connections: 4 });
      down.outage(60 * SECOND);
    });
    after(async () => {
      await downClient?.close();
      await down?.stop();
    });

    it(`reports providerDown after ${POLICY.outageThreshold} refused connections in a row and stops early`, async () => {
      const { mailingId } = await mailingWithDueMessages(db, 50);
      const report = await sendBatch(mailingId, 1000, activitiesWith({ provider: downClient, policy: { concurrency: 2 } }));
      assert.equal(report.providerDown, true);
      assert.ok(report.attempted >= POLICY.outageThreshold && report.attempted <= POLICY.outageThreshold + 2, `${report.attempted} attempted`);
      assert.equal(report.pending, 50);
    });

    it('neither counts refused connections as attempts nor grows the backoff of their messages', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 10);
      await db('messages').where({ mailing_id: mailingId }).update({ attempts: 5 });
      const before = Date.now();
      await sendBatch(mailingId, 1000, activitiesWith({ provider: downClient, policy: { concurrency: 2, retryInitialMs: SECOND } }));
      const refused = (await messageStates(db, mailingId)).filter((m) => m.last_error !== null);
      assert.ok(refused.length >= POLICY.outageThreshold);
      for (const message of refused) {
        assert.equal(message.attempts, 5);
        assert.ok(message.due_at.getTime() <= Date.now() + SECOND && message.due_at.getTime() >= before, 'due again after the first backoff step');
      }
    });

    it('leaves the messages it did not attempt claimable by the next batch', async () => {
      const { mailingId } = await mailingWithDueMessages(db, 20);
      const report = await sendBatch(mailingId, 1000, activitiesWith({ provider: downClient, policy: { concurrency: 2 } }));
      const claimed = await claimDue(mailingId, 100, 1000);
      assert.equal(claimed.messages.length, 20 - report.attempted);
    });

    it('does not report providerDown for refusals interrupted by answers', async () => {
      // Every other answer is a 503: never `outageThreshold` unreachable answers in a row.
      let calls = 0;
      const alternating: Provider = {
        send: (message, signal) => (calls++ % 2 === 0 ? downClient : client).send(message, signal),
        close: async () => undefined,
      };
      fake.setFaults({ errorRate: 1, errorStatus: 503 });
      const { mailingId } = await mailingWithDueMessages(db, 10);
      const report = await sendBatch(mailingId, 1000, activitiesWith({ provider: alternating, policy: { concurrency: 1 } }));
      assert.equal(report.providerDown, false);
      assert.equal(report.attempted, 10);
    });
  });
});
