import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, sendLimits } from '../config';
import { createLogger } from '../config/logger';
import { createMailingService } from '../domain/mailings';
import { Parts } from '../stack/parts';
import { repoRoot } from '../stack/repo-root';
import { listenForStopSignals, StopRequested, type StopSignals } from '../stack/stop-signals';
import { connectDatabase, type Database } from '../storage/database';
import * as messages from '../storage/messages';
import { runBaseline } from './baseline';
import { executable, loadAverage, machineBusySeconds, statusKb, treeCpuSeconds } from './proc';
import { providerControl } from './provider-control';
import { startBenchStack } from './stack';

/**
 * `npm run bench`: one mailing to BENCH_CLIENTS (default 100,000) clients through the whole service
 * (Temporal, worker process, PostgreSQL, fake provider process answering in 20 ms), then the same
 * sends by a plain loop without Temporal, for comparison. Sending settings come from the usual env
 * (SEND_CONCURRENCY, SEND_BATCH_SIZE, SEND_PARALLEL_BATCHES, DATABASE_POOL_MAX, …). Exits 1 when a
 * sanity check fails; missed targets are reported, not failed.
 */

const PROVIDER_LATENCY_MS = 20;
const START_DELAY_MS = 3_000;
const GIVE_UP_MS = 15 * 60_000;
const TARGET_RATE = 1_000;
const TARGET_MEMORY_MB = 300;
const TEXT = 'Benchmark message';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);

function clientCount(): number {
  const n = Number(process.env.BENCH_CLIENTS ?? 100_000);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`BENCH_CLIENTS must be a positive integer, not ${process.env.BENCH_CLIENTS}`);
  return n;
}

/** CPU seconds so far of each component, of this process and of the whole machine. */
function cpuSnapshot(pids: number[]) {
  const own = process.cpuUsage();
  return { at: Date.now(), trees: treeCpuSeconds(pids), bench: (own.user + own.system) / 1e6, machine: machineBusySeconds() };
}
type CpuSnapshot = ReturnType<typeof cpuSnapshot>;

/** Where the CPU went between two snapshots, in % of one core; "other" is load not ours. */
function cpuShares(names: string[], from: CpuSnapshot, to: CpuSnapshot): [string, string][] {
  const seconds = (to.at - from.at) / 1000;
  const pct = (cpu: number) => `${((100 * cpu) / seconds).toFixed(0)}%`;
  const ours = names.map((name, i) => [name, to.trees[i] - from.trees[i]] as const);
  const bench = to.bench - from.bench;
  const machine = to.machine - from.machine;
  // Clamped: the per-process and machine counters are read a moment apart.
  const other = Math.max(0, machine - bench - ours.reduce((sum, [, cpu]) => sum + cpu, 0));
  return [...ours.map(([name, cpu]) => [name, pct(cpu)] as [string, string]), ['bench process', pct(bench)], ['other processes', pct(other)], ['machine total (200% = 2 cores)', pct(machine)]];
}

/** A run's figures from the record of the provider and the database. */
async function measure(db: Database, control: ReturnType<typeof providerControl>, mailingId: number, firstClaimed: number) {
  const counts = (await messages.countsByMailing([mailingId])).get(mailingId)!;
  const { last_sent_at } = await messages.sendTimes(mailingId);
  const received = await control.summary();
  // Batches claim the lowest ids first, so the first request is among the first ones claimed.
  const lowest: { id: string }[] = (await db.raw('SELECT id FROM messages WHERE mailing_id = ? ORDER BY id LIMIT ?', [mailingId, firstClaimed])).rows;
  const firstArrival = await control.firstArrival(lowest.map((r) => Number(r.id)));
  const lastSent = last_sent_at ? Date.parse(last_sent_at) : NaN;
  // created_at is the start of the INSERT..SELECT that recorded the audience.
  const { rows } = await db.raw('SELECT min(created_at) AS recorded FROM messages WHERE mailing_id = ?', [mailingId]);
  const audienceAt = (rows[0].recorded as Date).getTime();
  return { counts, received, firstArrival, lastSent, audienceAt, rate: counts.sent / ((lastSent - firstArrival) / 1000) };
}

/** Polls the mailing's status until it is finished or expired; throws on a stop request or a dead part. */
async function waitForMailing(db: Database, mailingId: number, signals: StopSignals, parts: Parts, progress: () => Promise<void>) {
  let died: string | undefined;
  void parts.firstExit().then(({ name, status }) => (died = `${name} exited unexpectedly (${JSON.stringify(status)})`));
  const deadline = Date.now() + GIVE_UP_MS;
  for (let poll = 0; ; poll++) {
    signals.throwIfRequested();
    if (died) throw new Error(died);
    if (Date.now() > deadline) throw new Error(`mailing ${mailingId} did not finish within ${GIVE_UP_MS / 60_000} min`);
    const { rows } = await db.raw('SELECT status FROM mailings WHERE id = ?', [mailingId]);
    if (['finished', 'expired'].includes(rows[0].status)) return rows[0].status as string;
    if (poll % 40 === 39) await progress();
    await sleep(250);
  }
}

async function waitForWorkerPolling(temporal: Client, taskQueue: string, signals: StopSignals) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    signals.throwIfRequested();
    const { pollers } = await temporal.workflowService.describeTaskQueue({ namespace: temporal.options.namespace, taskQueue: { name: taskQueue } });
    if (pollers.length > 0) return;
    if (Date.now() > deadline) throw new Error('the worker did not poll its task queue within 2 min');
    await sleep(250);
  }
}

/** Which code was measured: other work may be uncommitted while the benchmark runs. */
function codeVersion(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
  try {
    // Porcelain lines are "XY path": the status letters, a space, the path.
    const changed = git('status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean).map((line) => line.slice(3));
    return `${git('rev-parse', '--short', 'HEAD').trim()}${changed.length ? ` + uncommitted changes to ${changed.join(', ')}` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function printTable(title: string, rows: [string, string][]) {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  for (const [key, value] of rows) console.log(`  ${key.padEnd(width)}  ${value}`);
}

async function main(): Promise<number> {
  const n = clientCount();
  const config = loadConfig();
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');
  const signals = listenForStopSignals(logger);
  const parts = new Parts(logger);
  const load: [string, string][] = [['at start', loadAverage()]];
  try {
    say(`starting the stack (load average ${loadAverage()})`);
    const stack = await startBenchStack(config, logger, parts);
    const control = providerControl(stack.providerUrl);
    await control.setLatency(PROVIDER_LATENCY_MS);
    const db = connectDatabase(stack.databaseUrl, config.DATABASE_POOL_MAX);
    parts.add({ name: 'bench database pool', stop: () => db.destroy() });
    const connection = await Connection.connect({ address: stack.temporalAddress });
    parts.add({ name: 'bench temporal client', stop: () => connection.close() });
    const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    signals.throwIfRequested();

    // The worker bundles its workflows while the clients are seeded.
    say('starting the worker; seeding clients');
    const worker = await stack.startWorker();
    const seedStart = Date.now();
    await db.raw(
      `INSERT INTO clients (phone_number, mobile_operator_code, tag, timezone)
       SELECT '7' || lpad(g::text, 10, '0'), lpad((g % 1000)::text, 3, '0'), 'bench', 'UTC' FROM generate_series(1, ?) g`,
      [n],
    );
    // A directory that has been there a while has statistics; 100k fresh rows have none yet.
    await db.raw('ANALYZE clients');
    const seedMs = Date.now() - seedStart;
    await waitForWorkerPolling(temporal, config.TEMPORAL_TASK_QUEUE, signals);
    say(`seeded ${n} clients in ${seedMs} ms; worker pid ${worker.pid} (${executable(worker.pid)}) is polling`);

    let peakRssKb = 0;
    let hwmKb = 0;
    const sampleMemory = () => {
      peakRssKb = Math.max(peakRssKb, statusKb(worker.pid, 'VmRSS') ?? 0);
      hwmKb = Math.max(hwmKb, statusKb(worker.pid, 'VmHWM') ?? 0);
    };
    const sampler = setInterval(sampleMemory, 200);
    const names = ['worker', 'postgres', 'temporal', 'fake provider'];
    const pids = [worker.pid, stack.pids.postgres, stack.pids.temporal, stack.pids.provider];

    const limits = sendLimits(config);
    const service = createMailingService({ temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, limits, stopWaitMs: config.MAILING_STOP_WAIT_MS, logger });
    const createdAt = Date.now();
    const startAt = createdAt + START_DELAY_MS;
    const mailing = await service.create({ start_at: new Date(startAt).toISOString(), end_at: new Date(createdAt + 3_600_000).toISOString(), text: TEXT, filter: {} });
    say(`mailing ${mailing.id} created, starting at ${new Date(startAt).toISOString()}`);
    // CPU is counted from start_at: the wait before it would only dilute the shares.
    await sleep(startAt - Date.now());
    const cpuBefore = cpuSnapshot(pids);
    const status = await waitForMailing(db, mailing.id, signals, parts, async () => say(`  provider received ${(await control.summary()).total}`));
    const mailingMs = Date.now() - createdAt;
    const cpuAfter = cpuSnapshot(pids);
    load.push(['after the mailing', loadAverage()]);
    sampleMemory();
    clearInterval(sampler);
    say(`mailing ${mailing.id} ${status} after ${mailingMs} ms; stopping the worker`);
    // Stopped so that it neither competes with the baseline for CPU nor sees its rows.
    await worker.stop();

    const firstClaimed = limits.parallelBatches * config.SEND_CONCURRENCY;
    const svc = await measure(db, control, mailing.id, firstClaimed);

    say('baseline: the same sends by a plain loop, without Temporal');
    await control.clear();
    const baseBefore = cpuSnapshot(pids.slice(1));
    const baseStart = Date.now();
    const baselineId = await runBaseline(db, { providerUrl: stack.providerUrl, token: stack.token, concurrency: config.SEND_CONCURRENCY, timeoutMs: config.SEND_TIMEOUT_MS });
    const baselineMs = Date.now() - baseStart;
    const baseAfter = cpuSnapshot(pids.slice(1));
    load.push(['after the baseline', loadAverage()]);
    const base = await measure(db, control, baselineId, firstClaimed);

    const checks: [string, boolean][] = [
      [`mailing status finished`, status === 'finished'],
      [`all ${n} messages sent`, svc.counts.sent === n],
      [`provider received ${n} distinct msgIds`, svc.received.distinctMsgIds === n],
      ['no duplicate requests', svc.received.total === svc.received.distinctMsgIds],
      ['every answer ok', svc.received.byOutcome.ok === svc.received.total],
      [`baseline: all ${n} sent, once each`, base.counts.sent === n && base.received.total === n && base.received.distinctMsgIds === n],
    ];
    const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    printTable('Settings', [
      ['clients / messages', String(n)],
      ['provider latency', `${PROVIDER_LATENCY_MS} ms`],
      ['SEND_CONCURRENCY', String(config.SEND_CONCURRENCY)],
      ['SEND_BATCH_SIZE x SEND_PARALLEL_BATCHES', `${limits.batchSize} x ${limits.parallelBatches}`],
      ['DATABASE_POOL_MAX', String(config.DATABASE_POOL_MAX)],
      ['code', codeVersion()],
    ]);
    printTable('Results', [
      ['service: messages/s', `${svc.rate.toFixed(0)}  (target >= ${TARGET_RATE}: ${verdict(svc.rate >= TARGET_RATE)})`],
      ['service: first send to last sent_at', `${((svc.lastSent - svc.firstArrival) / 1000).toFixed(1)} s`],
      ['service: start_at to first provider request', `${svc.firstArrival - startAt} ms`],
      ['  of which start_at to audience INSERT start', `${svc.audienceAt - startAt} ms`],
      ['worker peak memory (VmHWM)', `${mb(hwmKb)}  (target < ${TARGET_MEMORY_MB} MB: ${verdict(hwmKb / 1024 < TARGET_MEMORY_MB)})`],
      ['worker max sampled RSS (after start-up)', mb(peakRssKb)],
      ['baseline: messages/s', base.rate.toFixed(0)],
      ['service / baseline', `${((100 * svc.rate) / base.rate).toFixed(0)}%`],
      ['mailing wall time (create to finished)', `${(mailingMs / 1000).toFixed(1)} s`],
      ['baseline wall time (incl. INSERT..SELECT)', `${(baselineMs / 1000).toFixed(1)} s`],
      ['total wall time', `${((Date.now() - started) / 1000).toFixed(1)} s`],
    ]);
    printTable('Sanity', checks.map(([what, ok]) => [what, ok ? 'ok' : 'FAILED']));
    printTable('Provider record (service run)', [['requests / distinct msgIds', `${svc.received.total} / ${svc.received.distinctMsgIds}`], ['by outcome', JSON.stringify(svc.received.byOutcome)], ['message statuses', JSON.stringify(svc.counts)]]);
    printTable('CPU from start_at to finished, % of one core', cpuShares(names, cpuBefore, cpuAfter));
    printTable('CPU during the baseline, % of one core', cpuShares(names.slice(1), baseBefore, baseAfter));
    printTable('Load average (1, 5, 15 min)', load);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } catch (error) {
    if (error instanceof StopRequested) return 130;
    logger.fatal({ err: error }, 'benchmark failed');
    return 1;
  } finally {
    await parts.stopAll();
  }
}

// Exit explicitly: client connections and timers must not keep a stopped stack alive.
main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
