import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { isCancellation } from '@temporalio/workflow';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { bundleWorkflowCode, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { mailingChanged, mailingWorkflow, MailingWorkflowInput } from '../../workflows/mailing';
import { progressQuery } from '../../workflows/progress';
import { eventually } from '../support/eventually';
import { timeSkippingEnv } from '../support/time-skipping';
import { FakeMailing } from './fake-activities';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const limits = { batchSize: 100, parallelBatches: 2, outagePauseMs: 1000, outagePauseMaxMs: 60_000 };

describe('mailing workflow', function () {
  this.timeout(30_000);
  // Under heavy load (two suites and two busy loops on the two cores) a run on the time-skipping test
  // server now and then stops moving: its history shows a workflow task started and never completed,
  // a timer fired after it, then tasks timing out. A test that meets it runs once more, on a server
  // and worker of their own; a real fault fails both times.
  this.retries(1);
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let sequence = 0;
  /** The test's worker while its body runs; still set after a test timed out. */
  let running: { worker: Worker; calls: AbortController; done: Promise<unknown> } | undefined;

  before(async () => {
    bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  });
  // A test server of its own for each test: the test server skips no time while an activity runs, so
  // an activity left running by a test that timed out would hold the clock still for every test after
  // it (seen on CI: one timed-out test, then ten more that skip time).
  beforeEach(async () => {
    env = await timeSkippingEnv();
  });
  // A test that timed out leaves its body waiting on the server and its worker running: both are
  // stopped before the server (a call still retrying on a closed connection throws in a later test).
  afterEach(async () => {
    running?.calls.abort();
    if (running?.worker.getState() === 'RUNNING') running.worker.shutdown();
    await running?.done.catch(() => undefined);
    await env.teardown();
  });

  /** Runs `body` with a worker serving a fresh mailing workflow backed by `mailing`'s activities. */
  async function withMailing(
    mailing: FakeMailing,
    body: (handle: WorkflowHandleWithFirstExecutionRunId<typeof mailingWorkflow>) => Promise<void>,
    limitsOfRun: MailingWorkflowInput['limits'] = limits,
  ) {
    const taskQueue = `mailing-test-${++sequence}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: mailing.activities(),
      maxHeartbeatThrottleInterval: '100 milliseconds',
    });
    const start = () =>
      env.client.workflow.start(mailingWorkflow, {
        taskQueue,
        workflowId: `mailing-test-${sequence}`,
        args: [{ mailingId: sequence, limits: limitsOfRun } satisfies MailingWorkflowInput],
      });
    const calls = new AbortController();
    const done = env.client.withAbortSignal(calls.signal, () => worker.runUntil(async () => body(await start())));
    running = { worker, calls, done };
    try {
      await done;
    } finally {
      running = undefined;
    }
  }

  const now = async () => env.currentTimeMs();

  it('starts a future mailing by itself at its start time', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + HOUR), new Date(t0 + 2 * HOUR), 3);
    await withMailing(mailing, async (handle) => {
      await env.sleep(HOUR - MINUTE);
      assert.equal(mailing.count('claimStart'), 0);
      assert.equal(await handle.result(), 'finished');
      assert.ok(mailing.times.claimStart >= t0 + HOUR);
    });
  });

  it('starts at once when the start time has passed and the end time has not', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 - HOUR), new Date(t0 + HOUR), 2);
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      assert.ok(mailing.times.claimStart < t0 + MINUTE);
      assert.deepEqual(mailing.calls.slice(-2), ['sendBatch', 'finishMailing:done']);
    });
  });

  it('finishes once nothing is pending', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 250);
    mailing.perBatch = 50;
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      assert.equal(mailing.pending, 0);
      assert.equal(mailing.count('finishMailing:done'), 1);
    });
  });

  it('expires what is still pending when the end time comes', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
    mailing.perBatch = 0;
    mailing.nextDueAt = new Date(t0 + 10 * HOUR).toISOString();
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'expired');
      assert.ok(mailing.times['finishMailing:end'] >= t0 + HOUR);
    });
  });

  it('cancels send batches still running at the end time', async () => {
    const t0 = await now();
    // Time does not skip while an activity runs, so this end time is a few real seconds away.
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + 3000), 5);
    mailing.stall = true;
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'expired');
      assert.equal(mailing.batchesCancelled, limits.parallelBatches);
      assert.equal(mailing.calls.at(-1), 'finishMailing:end');
    });
  });

  it('is cancelled by deletion after its batches stop, and cancels the unsent messages', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
    mailing.stall = true;
    await withMailing(mailing, async (handle) => {
      // The recording started too: the time-skipping test server mishandles the cancellation of an
      // activity scheduled but not yet started (batches and recording are scheduled together).
      while (mailing.count('recordAudience') === 0 || mailing.count('sendBatch') < limits.parallelBatches) await new Promise((r) => setTimeout(r, 50));
      await handle.cancel();
      const error = await handle.result().catch((e: unknown) => e);
      assert.ok(error instanceof WorkflowFailedError && isCancellation(error.cause));
      assert.equal(mailing.batchesCancelled, limits.parallelBatches);
      assert.equal(mailing.calls.at(-1), 'cancelMailing');
    });
  });

  it('moves its start when edited before the start', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + HOUR), new Date(t0 + 5 * HOUR), 1);
    await withMailing(mailing, async (handle) => {
      await env.sleep(10 * MINUTE);
      mailing.schedule = { ...mailing.schedule, startAt: new Date(t0 + 3 * HOUR).toISOString() };
      await handle.signal(mailingChanged);
      await env.sleep(2 * HOUR);
      assert.equal(mailing.count('claimStart'), 0);
      assert.equal(await handle.result(), 'finished');
      assert.ok(mailing.times.claimStart >= t0 + 3 * HOUR);
    });
  });

  it('starts earlier when the start is brought forward', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + 5 * HOUR), new Date(t0 + 6 * HOUR), 1);
    await withMailing(mailing, async (handle) => {
      await env.sleep(MINUTE);
      mailing.schedule = { ...mailing.schedule, startAt: new Date(t0 + HOUR).toISOString() };
      await handle.signal(mailingChanged);
      assert.equal(await handle.result(), 'finished');
      assert.ok(mailing.times.claimStart < t0 + 2 * HOUR);
    });
  });

  it('applies a new end time and audience while running', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + 10 * HOUR), 5);
    mailing.perBatch = 0;
    mailing.nextDueAt = new Date(t0 + 20 * HOUR).toISOString();
    await withMailing(mailing, async (handle) => {
      while (mailing.count('sendBatch') === 0) await new Promise((r) => setTimeout(r, 50));
      mailing.schedule = { ...mailing.schedule, endAt: new Date(t0 + 2 * HOUR).toISOString(), audienceDone: false };
      await handle.signal(mailingChanged);
      assert.equal(await handle.result(), 'expired');
      assert.equal(mailing.count('recordAudience'), 2);
      const ended = mailing.times['finishMailing:end'];
      assert.ok(ended >= t0 + 2 * HOUR && ended < t0 + 3 * HOUR);
    });
  });

  it('continues as new so that a long mailing keeps a short history', async function () {
    this.timeout(60_000);
    const t0 = await now();
    // One message a batch: more batches than one run takes (400).
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 450);
    mailing.perBatch = 1;
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      const { runId } = await handle.describe();
      assert.notEqual(runId, handle.firstExecutionRunId);
      assert.equal(mailing.pending, 0);
    });
  });

  it('keeps sending past its batch limit while the audience is still being recorded, then continues as new', async function () {
    this.timeout(60_000);
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 450);
    mailing.perBatch = 1;
    mailing.holdRecording();
    await withMailing(mailing, async (handle) => {
      // One message a batch: the first run reaches its limit (400) with messages pending and the recording under way.
      await eventually(async () => (mailing.count('sendBatch') > 420 ? true : undefined), 30_000);
      assert.equal((await handle.describe()).runId, handle.firstExecutionRunId, 'sent on in the first run');
      assert.equal(mailing.count('recordAudience:stopped'), 0, 'the recording is still under way');
      mailing.recordingDone();
      assert.equal(await handle.result(), 'finished');
      assert.notEqual((await handle.describe()).runId, handle.firstExecutionRunId);
      assert.equal(mailing.pending, 0);
    });
  });

  it('continues as new while paused for days, so that a mailing paused for weeks keeps a short history, and sends once resumed', async function () {
    this.timeout(120_000);
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + 60 * 24 * HOUR), 5);
    // Nothing is sent until the test says so: the lanes find nothing to start.
    mailing.perBatch = 0;
    await withMailing(mailing, async (handle) => {
      await eventually(async () => mailing.count('sendBatch') > 0 || undefined);
      mailing.schedule = { ...mailing.schedule, status: 'paused' };
      await handle.signal(mailingChanged);
      // Schedule rechecks every ten minutes: more events in three days than one run takes (2,000).
      await env.sleep(72 * HOUR);
      const { runId, historyLength } = await handle.describe();
      assert.notEqual(runId, handle.firstExecutionRunId);
      assert.ok(historyLength < 2_100, `${historyLength} events in the latest run`);
      mailing.perBatch = Infinity;
      mailing.schedule = { ...mailing.schedule, status: 'running' };
      await handle.signal(mailingChanged);
      assert.equal(await handle.result(), 'finished');
      assert.equal(mailing.pending, 0);
    });
  });

  it('continues as new while paused before its start for days, and starts once resumed', async function () {
    this.timeout(120_000);
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + 60 * 24 * HOUR), 5);
    mailing.schedule = { ...mailing.schedule, status: 'paused' };
    await withMailing(mailing, async (handle) => {
      // Schedule rechecks every hour: more events in ten days than one run takes (2,000).
      await env.sleep(10 * 24 * HOUR);
      const { runId, historyLength } = await handle.describe();
      assert.notEqual(runId, handle.firstExecutionRunId);
      assert.ok(historyLength < 2_100, `${historyLength} events in the latest run`);
      assert.equal(mailing.count('claimStart'), 0);
      mailing.schedule = { ...mailing.schedule, status: 'scheduled' };
      await handle.signal(mailingChanged);
      assert.equal(await handle.result(), 'finished');
      assert.equal(mailing.pending, 0);
    });
  });

  it('claims its start before it records the audience or sends', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 2);
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      const [claim, record, send] = ['claimStart', 'recordAudience', 'sendBatch'].map((name) => mailing.calls.indexOf(name));
      assert.ok(claim >= 0 && claim < record && claim < send, mailing.calls.join());
    });
  });

  it('claims its start when the start timer fires and starts sending with the schedule the claim read', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + HOUR), new Date(t0 + 2 * HOUR), 2);
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      const firstSend = mailing.calls.indexOf('sendBatch');
      assert.deepEqual(mailing.calls.slice(0, 2), ['readSchedule', 'claimStart']);
      assert.equal(mailing.calls.slice(0, firstSend).filter((c) => c === 'readSchedule').length, 1, mailing.calls.join());
    });
  });

  it('reads the schedule again before it claims a start whose mailing was edited while it waited', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + HOUR), new Date(t0 + 2 * HOUR), 2);
    await withMailing(mailing, async (handle) => {
      await env.sleep(MINUTE);
      mailing.schedule = { ...mailing.schedule, startAt: new Date(t0 + 2 * MINUTE).toISOString() };
      await handle.signal(mailingChanged);
      assert.equal(await handle.result(), 'finished');
      assert.deepEqual(mailing.calls.slice(0, 3), ['readSchedule', 'readSchedule', 'claimStart']);
      assert.ok(mailing.times.claimStart < t0 + HOUR);
    });
  });

  it('sends while the audience is still being recorded', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
    mailing.holdRecording();
    await withMailing(mailing, async (handle) => {
      while (mailing.count('sendBatch') === 0) await new Promise((r) => setTimeout(r, 20));
      assert.equal(mailing.count('recordAudience:stopped'), 0, 'the recording is still under way');
      mailing.recordingDone();
      assert.equal(await handle.result(), 'finished');
      assert.ok(mailing.calls.indexOf('sendBatch') < mailing.calls.indexOf('recordAudience:stopped'));
    });
  });

  it('keeps its other batches going while one batch stalls', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 100);
    mailing.perBatch = 1;
    mailing.stallFirstBatch = true;
    await withMailing(mailing, async (handle) => {
      // The first batch holds on until it is cancelled; the other lane works through the rest meanwhile.
      while (mailing.pending > 0) await new Promise((r) => setTimeout(r, 20));
      assert.ok(mailing.count('sendBatch') >= 100);
      await handle.cancel();
      await handle.result().catch(() => undefined);
    });
  });

  it('ends expired, sending nothing, when its window passed before it could start', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 - 2 * HOUR), new Date(t0 + HOUR), 3);
    mailing.claims = [{ result: 'missed' }];
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'expired');
      assert.equal(mailing.count('sendBatch'), 0);
      assert.equal(mailing.count('recordAudience'), 0);
    });
  });

  it("waits again when the database's clock says the start has not come yet", async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 1);
    mailing.claims = [{ result: 'early', waitMs: 5 * MINUTE }];
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      assert.equal(mailing.count('claimStart'), 2);
      assert.ok(mailing.times.recordAudience >= t0 + 5 * MINUTE);
    });
  });

  it('closes a mailing found deleted before its start without claiming it', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + HOUR), new Date(t0 + 2 * HOUR), 1);
    mailing.schedule = { ...mailing.schedule, deleted: true };
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'cancelled');
      assert.equal(mailing.count('claimStart'), 0);
      assert.equal(mailing.calls.at(-1), 'cancelMailing');
    });
  });

  it('picks up an edit whose signal was lost by reading the schedule again while it waits', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0 + 10 * HOUR), new Date(t0 + 20 * HOUR), 1);
    await withMailing(mailing, async (handle) => {
      await env.sleep(MINUTE);
      mailing.schedule = { ...mailing.schedule, startAt: new Date(t0 + 2 * HOUR).toISOString() };
      assert.equal(await handle.result(), 'finished');
      assert.ok(mailing.times.claimStart < t0 + 4 * HOUR, 'started within an hour of the new start');
    });
  });

  it('keeps sending past its old end time when the end moved later and the signal was lost', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
    mailing.perBatch = 0;
    mailing.nextDueAt = new Date(t0 + 30 * HOUR).toISOString();
    await withMailing(mailing, async (handle) => {
      while (mailing.count('sendBatch') === 0) await new Promise((r) => setTimeout(r, 50));
      mailing.schedule = { ...mailing.schedule, endAt: new Date(t0 + 3 * HOUR).toISOString() };
      assert.equal(await handle.result(), 'expired');
      assert.ok(mailing.times['finishMailing:end'] >= t0 + 3 * HOUR);
    });
  });

  it('ends at once when its batches report the end passed by the database clock', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + 10 * HOUR), 5);
    mailing.perBatch = 0;
    mailing.endedByDatabase = true;
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'expired');
      assert.equal(mailing.count('sendBatch'), limits.parallelBatches);
      assert.ok(mailing.times['finishMailing:end'] < t0 + HOUR);
    });
  });

  it('never starts two batches in a lane without a timer when a batch could start nothing', async () => {
    // One skipped minute, not more: each of its up to 120 batches is a real activity round trip,
    // and ten minutes took 24 s here and over 120 s on a loaded CI host.
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + MINUTE), 5);
    mailing.perBatch = 0;
    mailing.nextDueAt = new Date(t0 - HOUR).toISOString();
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'expired');
      // One batch a second per lane at most over the minute (continue-as-new adds none).
      assert.ok(mailing.count('sendBatch') <= limits.parallelBatches * 60 + limits.parallelBatches, `${mailing.count('sendBatch')} batches`);
    });
  });

  it('does not finish while an edit has re-opened the audience', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 2);
    const activities = mailing.activities();
    const finishMailing = activities.finishMailing;
    let reopened = false;
    mailing.activities = () => ({
      ...activities,
      finishMailing: async (id: number, reachedEnd: boolean) => {
        if (!reopened) {
          reopened = true;
          mailing.schedule = { ...mailing.schedule, audienceDone: false };
        }
        return finishMailing(id, reachedEnd);
      },
    });
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      assert.equal(mailing.count('recordAudience'), 2);
      assert.equal(mailing.count('finishMailing:done'), 2);
    });
  });

  it('lets a running audience recording finish its chunk before closing a deleted mailing', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
    mailing.stallRecording = true;
    // Batches hold on too, so the cancellation finds every activity started (the time-skipping test
    // server mishandles the cancellation of an activity scheduled but not yet started).
    mailing.stall = true;
    await withMailing(mailing, async (handle) => {
      while (mailing.count('recordAudience') === 0 || mailing.count('sendBatch') < limits.parallelBatches) await new Promise((r) => setTimeout(r, 50));
      await handle.cancel();
      await handle.result().catch(() => undefined);
      assert.deepEqual(mailing.calls.slice(-2), ['recordAudience:stopped', 'cancelMailing']);
    });
  });

  it("sends clients in three zones each at its own window's opening, asleep in between", async () => {
    const t0 = await now();
    // Due at 09:00 local in three zones: three different instants.
    const opens = [t0 + 20 * MINUTE, t0 + 45 * MINUTE, t0 + 70 * MINUTE];
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + 2 * HOUR), opens.length);
    mailing.dueTimes = [...opens];
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      assert.equal(mailing.sentAt.length, 3);
      mailing.sentAt.forEach((sentAt, i) => assert.ok(sentAt >= opens[i] && sentAt < opens[i] + MINUTE, `message ${i} sent ${(sentAt - opens[i]) / 1000} s after its opening`));
      // Woken by each opening, not every so often: a few batches per lane, not one a second for an hour.
      assert.ok(mailing.count("sendBatch") <= 8 * limits.parallelBatches, `${mailing.count("sendBatch")} batches`);
    });
  });

  it('pauses once, not once per lane, when every lane finds the provider down', async () => {
    const t0 = await now();
    const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
    mailing.providerDownBatches = limits.parallelBatches;
    await withMailing(mailing, async (handle) => {
      assert.equal(await handle.result(), 'finished');
      const resumedAfter = mailing.batchTimes[limits.parallelBatches] - mailing.batchTimes[0];
      assert.ok(resumedAfter >= limits.outagePauseMs && resumedAfter < 2 * limits.outagePauseMs, `resumed after ${resumedAfter} ms`);
    });
  });

  describe('progress query', () => {
    it('answers while waiting for the start, without adding to the history', async () => {
      const t0 = await now();
      const mailing = new FakeMailing(new Date(t0 + HOUR), new Date(t0 + 2 * HOUR), 3);
      await withMailing(mailing, async (handle) => {
        // Asleep on its timer once it has read the schedule (the server answers a query between workflow tasks).
        await eventually(async () => ((await handle.query(progressQuery)).startAt !== null ? true : undefined));
        const before = (await handle.describe()).historyLength;
        const progress = await handle.query(progressQuery);
        assert.equal(progress.phase, 'waiting for start');
        assert.equal(progress.startAt, mailing.schedule.startAt);
        assert.equal(progress.pending, null);
        assert.equal((await handle.describe()).historyLength, before);
        // Left waiting, its timer would fire on a queue nobody polls and hold the test server's clock.
        await handle.terminate();
      });
    });

    it('counts what the send batches reported once the mailing finished', async () => {
      const t0 = await now();
      const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 250);
      mailing.perBatch = 50;
      await withMailing(mailing, async (handle) => {
        assert.equal(await handle.result(), 'finished');
        const progress = await handle.query(progressQuery);
        assert.deepEqual(
          { phase: progress.phase, sent: progress.sent, attempted: progress.attempted, failed: progress.failed, pending: progress.pending, audienceRecorded: progress.audienceRecorded },
          { phase: 'finished', sent: 250, attempted: 250, failed: 0, pending: 0, audienceRecorded: true },
        );
        assert.equal(progress.batchesRun, mailing.count('sendBatch'));
      });
    });

    it('shows a provider outage as backing off until the pause ends', async () => {
      const t0 = await now();
      const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 5);
      mailing.providerDownBatches = limits.parallelBatches;
      // Long enough that the test sees the pause (time only skips while the test awaits the result).
      const outagePauseMs = 10 * MINUTE;
      await withMailing(
        mailing,
        async (handle) => {
          const during = await eventually(async () => {
            const progress = await handle.query(progressQuery);
            return progress.phase === 'backing off: provider down' ? progress : undefined;
          });
          assert.ok(during.backingOffUntil && Date.parse(during.backingOffUntil) > t0);
          assert.equal(await handle.result(), 'finished');
          const after = await handle.query(progressQuery);
          assert.equal(after.backingOffUntil, null);
          assert.equal(after.retried, 20 * limits.parallelBatches);
        },
        { ...limits, outagePauseMs },
      );
    });

    it('keeps counting across continue-as-new', async function () {
      this.timeout(60_000);
      const t0 = await now();
      const mailing = new FakeMailing(new Date(t0), new Date(t0 + HOUR), 450);
      mailing.perBatch = 1;
      await withMailing(mailing, async (handle) => {
        assert.equal(await handle.result(), 'finished');
        assert.notEqual((await handle.describe()).runId, handle.firstExecutionRunId);
        const progress = await handle.query(progressQuery);
        assert.equal(progress.sent, 450);
        assert.equal(progress.batchesRun, mailing.count('sendBatch'));
      });
    });
  });
});
