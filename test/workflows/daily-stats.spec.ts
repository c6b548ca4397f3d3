import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createDailyStatsActivities } from '../../activities/daily-stats';
import type { OutgoingEmail } from '../../activities/stats-mailer';
import { createLogger } from '../../config/logger';
import type { DayStatistics } from '../../storage/daily-statistics';
import { dailyStatsWorkflow, SCHEDULED_START_TIME } from '../../workflows/daily-stats';
import { timeSkippingEnv } from '../support/time-skipping';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const noStatistics: DayStatistics = { settled: { sent: 0, failed: 0, expired: 0, cancelled: 0 }, pendingNow: 0, mailings: [], mailingsRun: 0, failures: [] };

describe('daily statistics workflow', function () {
  this.timeout(30_000);
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let sequence = 0;

  before(async () => {
    [env, bundle] = await Promise.all([
      timeSkippingEnv(),
      bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } }),
    ]);
    // The test server knows no schedules, so it has not heard of the attribute schedules set; runs here carry it as a schedule's would.
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: { [SCHEDULED_START_TIME.name]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME },
    });
  });
  after(async () => env?.teardown());

  /** Runs one daily statistics workflow as the schedule would start it at `scheduledAt` (none: started by hand). */
  async function runReport(timeZone: string, scheduledAt?: Date) {
    const asked: { from: Date; to: Date }[] = [];
    const sent: OutgoingEmail[] = [];
    const taskQueue = `daily-stats-test-${++sequence}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createDailyStatsActivities({
        mail: { mailer: { send: async (email) => (sent.push(email), { rejected: [] }), close() {} }, from: 'stats@example.test' },
        logger: createLogger('silent', 'daily-stats-spec'),
        statistics: async (from, to) => (asked.push({ from, to }), noStatistics),
        sendOnce: async (_email, send) => (await send(), true),
      }),
    });
    const result = await worker.runUntil(
      env.client.workflow.execute(dailyStatsWorkflow, {
        taskQueue,
        workflowId: `daily-stats-test-${sequence}`,
        args: [{ timeZone, recipients: ['ops@example.test'] }],
        typedSearchAttributes: scheduledAt ? [{ key: SCHEDULED_START_TIME, value: scheduledAt }] : [],
      }),
    );
    assert.equal(asked.length, 1);
    assert.equal(sent.length, 1);
    return { result, ...asked[0], subject: sent[0].subject };
  }

  it('reports the previous local day when scheduled just after midnight in the zone', async () => {
    const report = await runReport('Europe/Moscow', new Date('2026-03-28T21:05:00Z')); // 00:05 on 29 March in Moscow
    assert.equal(report.result.date, '2026-03-28');
    assert.equal(report.from.toISOString(), '2026-03-27T21:00:00.000Z');
    assert.equal(report.to.toISOString(), '2026-03-28T21:00:00.000Z');
    assert.match(report.subject, /2026-03-28 \(Europe\/Moscow\)/);
  });

  it('reports the previous local day, not the one about to end, when scheduled at its last minute before midnight in the zone', async () => {
    const report = await runReport('Europe/Moscow', new Date('2026-03-29T20:59:00Z')); // 23:59 on 29 March in Moscow
    assert.equal(report.result.date, '2026-03-28');
    assert.equal(report.from.toISOString(), '2026-03-27T21:00:00.000Z');
    assert.equal(report.to.toISOString(), '2026-03-28T21:00:00.000Z');
  });

  it('gives a spring-forward day 23 hours', async () => {
    const report = await runReport('America/New_York', new Date('2026-03-09T12:00:00Z')); // 08:00 the day after the clocks went forward
    assert.equal(report.result.date, '2026-03-08');
    assert.equal(report.from.toISOString(), '2026-03-08T05:00:00.000Z');
    assert.equal(report.to.getTime() - report.from.getTime(), 23 * HOUR);
  });

  it('gives a fall-back day 25 hours', async () => {
    const report = await runReport('Europe/Berlin', new Date('2026-10-26T07:00:00Z')); // 08:00 the day after the clocks went back
    assert.equal(report.result.date, '2026-10-25');
    assert.equal(report.from.toISOString(), '2026-10-24T22:00:00.000Z');
    assert.equal(report.to.getTime() - report.from.getTime(), 25 * HOUR);
  });

  it('reports the day of its scheduled time when it runs days late (a catch-up run)', async () => {
    const scheduledAt = new Date((await env.currentTimeMs()) - 3 * DAY);
    const report = await runReport('UTC', scheduledAt);
    const expected = new Date(scheduledAt.getTime() - DAY).toISOString().slice(0, 10);
    assert.equal(report.result.date, expected);
    assert.equal(report.from.toISOString(), `${expected}T00:00:00.000Z`);
  });

  it('reports the day before its start when started by hand, without a schedule', async () => {
    const startedAround = await env.currentTimeMs();
    const report = await runReport('UTC');
    assert.equal(report.result.date, new Date(startedAround - DAY).toISOString().slice(0, 10));
  });
});
