import assert from 'node:assert/strict';
import { Client, Connection, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createDailyStatsActivities } from '../../activities/daily-stats';
import type { OutgoingEmail } from '../../activities/stats-mailer';
import { createLogger } from '../../config/logger';
import type { DayStatistics } from '../../storage/daily-statistics';
import { ensureDailyStatsSchedule, type DailyStatsScheduleSettings } from '../../worker/daily-stats-schedule';
import { DAILY_STATS_SCHEDULE_ID, type DailyStatsResult } from '../../workflows/daily-stats';
import { eventually } from '../support/eventually';
import { testStack } from '../support/stack';

const logger = createLogger('silent', 'daily-stats-schedule-spec');
const settings: DailyStatsScheduleSettings = { hour: 8, minute: 0, timeZone: 'Europe/Moscow', recipients: ['ops@example.test'] };
const noStatistics: DayStatistics = { settled: { sent: 0, failed: 0, expired: 0, cancelled: 0 }, pendingNow: 0, mailings: [], mailingsRun: 0, failures: [] };

describe('the daily-stats schedule', function () {
  this.timeout(120_000);
  let client: Client;
  // No worker polls it, except in the catch-up test: nothing the schedule starts elsewhere runs.
  const taskQueue = `daily-stats-schedule-${Date.now()}`;
  const handle = () => client.schedule.getHandle(DAILY_STATS_SCHEDULE_ID);
  const ensure = (overrides: Partial<DailyStatsScheduleSettings> = {}) => ensureDailyStatsSchedule(client, taskQueue, { ...settings, ...overrides }, logger);

  before(async () => {
    client = new Client({ connection: await Connection.connect({ address: testStack().temporalAddress }), namespace: testStack().namespace });
  });
  afterEach(async () => handle().delete().catch(() => undefined));
  after(async () => client?.connection.close());

  async function schedules() {
    const ids: string[] = [];
    for await (const schedule of client.schedule.list()) if (schedule.scheduleId === DAILY_STATS_SCHEDULE_ID) ids.push(schedule.scheduleId);
    return ids;
  }

  it('is created once when the worker starts twice, with the configured time, zone and recipients', async () => {
    assert.equal(await ensure(), 'created');
    assert.equal(await ensure(), 'unchanged');
    assert.deepEqual(await eventually(async () => ((await schedules()).length ? schedules() : undefined)), [DAILY_STATS_SCHEDULE_ID]);
    const description = await handle().describe();
    assert.equal(description.spec.timezone, 'Europe/Moscow');
    assert.deepEqual(
      description.spec.calendars?.map((c) => [c.hour, c.minute]),
      [[[{ start: 8, end: 8, step: 1 }], [{ start: 0, end: 0, step: 1 }]]],
    );
    assert.deepEqual(description.action.args, [{ timeZone: 'Europe/Moscow', recipients: ['ops@example.test'] }]);
    assert.equal(description.action.taskQueue, taskQueue);
    assert.equal(description.policies.overlap, ScheduleOverlapPolicy.ALLOW_ALL);
    assert.equal(description.state.paused, false);
  });

  it('follows a changed time, zone and recipients', async () => {
    await ensure();
    assert.equal(await ensure({ hour: 21, minute: 45, timeZone: 'Asia/Tokyo', recipients: ['a@example.test', 'b@example.test'] }), 'updated');
    const description = await handle().describe();
    assert.equal(description.spec.timezone, 'Asia/Tokyo');
    assert.deepEqual(
      description.spec.calendars?.map((c) => [c.hour[0].start, c.minute[0].start]),
      [[21, 45]],
    );
    assert.deepEqual(description.action.args, [{ timeZone: 'Asia/Tokyo', recipients: ['a@example.test', 'b@example.test'] }]);
  });

  it('is paused when no recipients are configured, and resumed when they are again', async () => {
    await ensure();
    assert.equal(await ensure({ recipients: [] }), 'paused');
    assert.equal((await handle().describe()).state.paused, true);
    assert.equal(await ensure(), 'updated');
    assert.equal((await handle().describe()).state.paused, false);
  });

  it('stays paused when an operator paused it, while following the configuration', async () => {
    await ensure();
    await handle().pause('paused by hand');
    assert.equal(await ensure({ hour: 9 }), 'updated');
    const description = await handle().describe();
    assert.equal(description.state.paused, true);
    assert.equal(description.state.note, 'paused by hand');
    assert.equal(description.spec.calendars?.[0].hour[0].start, 9);
    assert.equal(await ensure({ hour: 9 }), 'unchanged');
  });

  it('is not created without recipients', async () => {
    assert.equal(await ensure({ recipients: [] }), 'absent');
    await assert.rejects(handle().describe(), ScheduleNotFoundError);
  });

  it('starts runs that report the day before their scheduled time, however late they run', async () => {
    await ensure({ timeZone: 'UTC' });
    const sent: OutgoingEmail[] = [];
    const connection = await NativeConnection.connect({ address: testStack().temporalAddress });
    const worker = await Worker.create({
      connection,
      namespace: testStack().namespace,
      taskQueue,
      workflowsPath: require.resolve('../../workflows'),
      activities: createDailyStatsActivities({
        mail: { mailer: { send: async (email) => (sent.push(email), { rejected: [] }), close() {} }, from: 'stats@example.test' },
        logger,
        statistics: async () => noStatistics,
        sendOnce: async (_email, send) => (await send(), true),
      }),
    });
    // A backfill is what a catch-up after downtime is: runs started now for times that passed.
    await handle().backfill({ start: new Date('2026-11-20T07:59:00Z'), end: new Date('2026-11-20T08:01:00Z'), overlap: ScheduleOverlapPolicy.ALLOW_ALL });
    const result = await worker.runUntil(async () => {
      const action = await eventually(async () => (await handle().describe()).info.recentActions[0]);
      return client.workflow.getHandle(action.action.workflow.workflowId).result() as Promise<DailyStatsResult>;
    });
    await connection.close();
    assert.equal(result.date, '2026-11-19');
    assert.equal(sent.length, 1);
    assert.match(sent[0].subject, /^Mailing statistics for 2026-11-19 \(UTC\)/);
  });
});
