/**
 * Records histories of the current workflows for the replay test: runs each scenario on a throwaway
 * stack and writes `test/histories/<prefix>-<scenario>.json`. Never overwrites a history: histories
 * are kept forever, so a new workflow version records under a new prefix. Without a list, every
 * scenario is recorded: the mailing scenarios, the daily statistics run, and a first run that sends
 * past its batch limit while a large audience is still being recorded.
 *
 *   node --import tsx test/histories/record.ts <prefix> [mailing] [daily-stats] [long-audience]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Model } from 'objection';
import { startTestStack, stopTestStack } from '../support/stack';
import { startWorker } from '../support/worker';
import { startFakeProvider } from '../../stack/fake-provider';
import { createMailingService } from '../../domain/mailings';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { temporalCliPath } from '../../stack/temporal/cli';
import { connectDatabase } from '../../storage/database';
import { eventually } from '../support/eventually';
import { createStatsMailer } from '../../activities/stats-mailer';
import { startMailSink } from '../../stack/mail-sink';
import { ensureDailyStatsSchedule } from '../../worker/daily-stats-schedule';
import { DAILY_STATS_SCHEDULE_ID } from '../../workflows/daily-stats';
import { runMain } from '../../stack/process/script';

const out = path.join(__dirname);
const prefix = process.argv[2];
const SCENARIOS = ['mailing', 'daily-stats', 'long-audience'];
const scenarios = process.argv.length > 3 ? process.argv.slice(3) : SCENARIOS;
const iso = (ms: number) => new Date(Date.now() + ms).toISOString();

async function main() {
  if (!prefix || scenarios.some((s) => !SCENARIOS.includes(s))) throw new Error(`usage: node --import tsx test/histories/record.ts <prefix> [${SCENARIOS.join(' ')}]`);
  const stack = await startTestStack();
  const db = connectDatabase(stack.databaseUrl);
  Model.knex(db);
  const provider = await startFakeProvider({ seed: 5 });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection });
  const logger = createLogger('warn', 'record');
  const taskQueue = 'mailings';
  const cli = await temporalCliPath(loadConfig());
  const service = (limits: object) =>
    createMailingService({ temporal, taskQueue, limits: { batchSize: 50, parallelBatches: 2, outagePauseMs: 1000, outagePauseMaxMs: 60000, ...limits }, stopWaitMs: 30000, logger });
  const mailings = service({});
  const mailSink = await startMailSink();
  const worker = await startWorker({
    taskQueue,
    providerUrl: provider.url,
    mailings,
    policy: { outageThreshold: 3, retryInitialMs: 200, retryMaxMs: 1000 },
    dailyStats: { mailer: createStatsMailer(mailSink.url), from: 'stats@example.test' },
  });
  const seed = async (tag: string, n: number) => {
    for (let i = 0; i < n; i += 5000) {
      const rows = Array.from({ length: Math.min(5000, n - i) }, () => {
        const phone = `79${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;
        return { phone_number: phone, mobile_operator_code: phone.slice(1, 4), tag, timezone: 'UTC' };
      });
      await db('clients').insert(rows).onConflict('phone_number').ignore();
    }
  };
  const status = async (id: number) => (await db('mailings').where({ id }).first()).status;
  const settled = (id: number) => eventually(async () => (['finished', 'expired', 'cancelled'].includes(await status(id)) ? true : undefined), 120_000);
  const show = async (name: string, id: number, runId?: string) => {
    await temporal.workflow.getHandle(`mailing-${id}`).result().catch(() => undefined);
    write(name, `mailing-${id}`, runId);
  };
  const write = (name: string, workflowId: string, runId?: string) => {
    const json = execFileSync(cli, ['workflow', 'show', '-w', workflowId, ...(runId ? ['-r', runId] : []), '-o', 'json', '--address', stack.temporalAddress], { maxBuffer: 1 << 28 });
    writeFileSync(path.join(out, `${prefix}-${name}.json`), json, { flag: 'wx' });
    console.log('recorded', name);
  };

  async function recordMailings() {
    provider.reset();
    // Finished after a start in the future.
    await seed('rec-finished', 5);
    let m = await mailings.create({ start_at: iso(2000), end_at: iso(3600_000), text: 'finished', filter: { tag: 'rec-finished' } });
    await settled(m.id);
    await show('finished', m.id);

    provider.reset();
    // Expired at the end: every answer a 5xx.
    await seed('rec-expired', 5);
    provider.setFaults({ errorRate: 1, errorStatus: 503 });
    m = await mailings.create({ start_at: iso(0), end_at: iso(4000), text: 'expired', filter: { tag: 'rec-expired' } });
    await settled(m.id);
    provider.setFaults({});
    await show('expired-at-end', m.id);

    provider.reset();
    // Start moved earlier by an edit while scheduled (a signal before the start).
    await seed('rec-moved', 3);
    m = await mailings.create({ start_at: iso(3600_000), end_at: iso(7200_000), text: 'moved', filter: { tag: 'rec-moved' } });
    await new Promise((r) => setTimeout(r, 1000));
    await mailings.update(m.id, { start_at: iso(1000) });
    await settled(m.id);
    await show('start-moved-earlier', m.id);

    provider.reset();
    // A signal while sending: text and filter edited.
    await seed('rec-signal-a', 30);
    await seed('rec-signal-b', 10);
    provider.setFaults({ latencyMs: 200 });
    m = await mailings.create({ start_at: iso(0), end_at: iso(3600_000), text: 'before', filter: { tag: 'rec-signal-a' } });
    await eventually(async () => (provider.received().length > 0 ? true : undefined));
    await mailings.update(m.id, { text: 'after', filter: { tag: ['rec-signal-a', 'rec-signal-b'] } });
    await settled(m.id);
    provider.setFaults({});
    await show('signal-while-sending', m.id);

    provider.reset();
    // The outage back-off: connections refused for 3 s.
    await seed('rec-outage', 20);
    provider.setFaults({ latencyMs: 50 });
    m = await mailings.create({ start_at: iso(0), end_at: iso(3600_000), text: 'outage', filter: { tag: 'rec-outage' } });
    await eventually(async () => (provider.received().length > 0 ? true : undefined));
    provider.outage(3000);
    await settled(m.id);
    provider.setFaults({});
    await show('outage-backoff', m.id);

    provider.reset();
    // Deleted while sending.
    await seed('rec-deleted', 200);
    provider.setFaults({ latencyMs: 300 });
    m = await mailings.create({ start_at: iso(0), end_at: iso(3600_000), text: 'deleted', filter: { tag: 'rec-deleted' } });
    await eventually(async () => (provider.received().length > 5 ? true : undefined));
    await mailings.remove(m.id);
    provider.setFaults({});
    await show('deleted-while-sending', m.id);

    provider.reset();
    // Deleted while its audience is being recorded.
    await seed('rec-big', 60_000);
    m = await mailings.create({ start_at: iso(0), end_at: iso(3600_000), text: 'deleted early', filter: { tag: 'rec-big' } });
    await eventually(async () => ((await db('messages').where({ mailing_id: m.id }).first()) ? true : undefined), 60_000);
    await mailings.remove(m.id);
    await show('deleted-while-recording-audience', m.id);

    provider.reset();
    // Continue-as-new: one message per batch, so the first run reaches its batch limit (400).
    const small = service({ batchSize: 1, parallelBatches: 1 });
    await seed('rec-can', 420);
    m = await small.create({ start_at: iso(0), end_at: iso(3600_000), text: 'continue', filter: { tag: 'rec-can' } });
    await settled(m.id);
    const first = (await temporal.workflow.getHandle(`mailing-${m.id}`).describe()).runId;
    let firstRun: string | undefined;
    for await (const w of temporal.workflow.list({ query: `WorkflowId = 'mailing-${m.id}'` })) if (w.runId !== first) firstRun = w.runId;
    await show('continued-as-new', m.id, firstRun);
  }

  // A run of the daily-stats schedule, triggered, e-mailing a sink.
  async function recordDailyStats() {
    await ensureDailyStatsSchedule(temporal, taskQueue, { hour: 8, minute: 0, timeZone: 'Europe/Moscow', recipients: ['ops@example.test'] }, logger);
    const schedule = temporal.schedule.getHandle(DAILY_STATS_SCHEDULE_ID);
    await schedule.trigger();
    const action = await eventually(async () => (await schedule.describe()).info.recentActions[0]);
    const run = temporal.workflow.getHandle(action.action.workflow.workflowId);
    await run.result();
    await schedule.delete();
    write('daily-stats', run.workflowId);
  }

  // A first run that reaches its batch limit (one message a batch) while 500,000 clients are still being recorded.
  async function recordLongAudience() {
    provider.reset();
    const small = service({ batchSize: 1, parallelBatches: 2 });
    await seed('rec-long', 500_000);
    const m = await small.create({ start_at: iso(0), end_at: iso(3600_000), text: 'long audience', filter: { tag: 'rec-long' } });
    const handle = temporal.workflow.getHandle(`mailing-${m.id}`);
    const first = (await handle.describe()).runId;
    await eventually(async () => ((await handle.describe()).runId !== first ? true : undefined), 600_000);
    await small.remove(m.id);
    write('sent-on-while-recording', handle.workflowId, first);
  }

  if (scenarios.includes('mailing')) await recordMailings();
  if (scenarios.includes('daily-stats')) await recordDailyStats();
  if (scenarios.includes('long-audience')) await recordLongAudience();

  await worker.stop();
  await mailSink.stop();
  await provider.stop();
  await connection.close();
  await db.destroy();
  await stopTestStack();
}

runMain(main);
