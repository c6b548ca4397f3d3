import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { loadConfig, sendLimits } from '../config';
import { createLogger } from '../config/logger';
import { createMailingService } from '../domain/mailings';
import { startFakeProvider, type Faults } from '../stack/fake-provider';
import { freePort } from '../stack/process/ports';
import { Parts } from '../stack/process/parts';
import { startEmbeddedPostgres, type RunningPostgres } from '../stack/postgres/server';
import { listenForStopSignals, runMain, StopRequested } from '../stack/process/script';
import { temporalCliPath } from '../stack/temporal/cli';
import { startTemporalDevServer, type RunningTemporal } from '../stack/temporal/dev-server';
import { connectDatabase } from '../storage/database';
import { mailingWorkflowId } from '../workflows/mailing';
import { migrateLatest } from '../storage/migrate';
import { changedFiles, codeSnapshot, codeVersion } from './code-version';
import { auditDeliveries, deliveredSoFar } from './fault-audit';
import { timeoutsInHistory } from './fault-history';
import { WorkerProcess } from './worker-process';

/**
 * `npm run fault-run`: the long fault-injection run of the issue, run by hand (not in CI) for its
 * figures. One mailing to FAULT_CLIENTS clients (default 10,000) with a window of
 * FAULT_WINDOW_MINUTES (default 15), two worker processes, a private embedded PostgreSQL and Temporal
 * dev server (with a database file) that are restarted mid-mailing, and the fake provider in this
 * process answering 20% 5xx, 10% malformed bodies and 5% never (stalls) until the faults are cleared.
 *
 * Timeline, each step once the provider has accepted the given share of the audience (or after
 * STEP_TIMEOUT_MS without getting there, which is reported): 10% SIGKILL worker A, start a
 * replacement; 20% a 15 s provider outage; 35% PostgreSQL stop, 2 s, start; 50% Temporal stop, 2 s,
 * start; 65% SIGKILL worker B, start a replacement; then the faults are cleared: the last fault ends.
 *
 * Then it waits until the mailing is final (or end_at + 60 s), prints a details line (longest pauses
 * between deliveries, timeouts in the workflow's history, provider answers, message statuses, worker
 * error log lines) and one line of figures from the provider's own record and the database, and exits
 * 1 if a client was not reached, a request came at or after end_at, a client got two messages, or the
 * last delivery came more than 3 minutes after the last fault ended. Ctrl-C (or SIGTERM) stops
 * every process it started and removes its temp dir.
 *
 * Also FAULT_SEED (the provider's fault draws, default 1). Workers get SEND_TIMEOUT_MS=2000 and
 * SEND_CONCURRENCY=32 unless set; any other SEND_* setting in the environment reaches them as is
 * (retries, outage pauses, batches: the defaults of config/index.ts).
 */

const CLIENTS = positiveNumber('FAULT_CLIENTS', 10_000, true);
const WINDOW_MINUTES = positiveNumber('FAULT_WINDOW_MINUTES', 15, false);
const SEED = positiveNumber('FAULT_SEED', 1, true);
/** The issue's bound: every message delivered within this time of the last fault ending. */
const DELIVERY_BOUND_MS = 3 * 60_000;
const FAULTS: Faults = { latencyMs: { min: 10, max: 80 }, errorRate: 0.2, malformedRate: 0.1, hangRate: 0.05 };
const OUTAGE_MS = 15_000;
const RESTART_PAUSE_MS = 2_000;
/** The longest wait for a step's share of deliveries before the step is taken anyway. */
const STEP_TIMEOUT_MS = 120_000;
const PROGRESS_EVERY_MS = 15_000;
const TAG = 'fault-run';
const TOKEN = 'fault-run-token';
const TASK_QUEUE = 'fault-run';

/** Worker settings: realistic ones, each overridable from the environment. */
const WORKER_SETTINGS = {
  SEND_TIMEOUT_MS: process.env.SEND_TIMEOUT_MS || '2000',
  SEND_CONCURRENCY: process.env.SEND_CONCURRENCY || '32',
};

const started = Date.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);

function positiveNumber(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, not ${raw}`);
  return n;
}


async function main(): Promise<number> {
  const config = loadConfig({ ...process.env, ...WORKER_SETTINGS });
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'fault-run');
  const signals = listenForStopSignals(logger);
  const parts = new Parts(logger);

  /** Sleeps, but gives up at once on Ctrl-C. */
  const pause = async (ms: number) => {
    await Promise.race([sleep(ms), signals.received]);
    signals.throwIfRequested();
  };

  const codeAtStart = codeSnapshot();
  say(`code: ${codeVersion()}`);
  try {
    // ---- the stack: PostgreSQL and Temporal restartable in place, the provider in this process ----
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mailings-fault-run-'));
    // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
    await chmod(dir, 0o755);
    parts.add({ name: 'temp dir', stop: () => rm(dir, { recursive: true, force: true }) });
    // A crash skips the ordered stop; the cluster must not be left in /tmp anyway.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

    const [pgPort, temporalPort] = [await freePort(), await freePort()];
    const cliPath = await temporalCliPath(config);
    let postgres: RunningPostgres | undefined;
    let temporal: RunningTemporal | undefined;
    const startPostgres = async () => (postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, logger }));
    const startTemporal = async () =>
      (temporal = await startTemporalDevServer({ cliPath, dbFile: path.join(dir, 'temporal.db'), port: temporalPort, namespace: config.TEMPORAL_NAMESPACE, logger }));
    parts.add({ name: 'postgres', stop: async () => void (await postgres?.stop()) });
    parts.add({ name: 'temporal', stop: async () => void (await temporal?.stop()) });

    say(`starting PostgreSQL, Temporal (db file) and the fake provider in ${dir}`);
    const startups = await Promise.allSettled([startPostgres(), startTemporal()]);
    for (const s of startups) if (s.status === 'rejected') throw s.reason;
    const databaseUrl = postgres!.url;
    const temporalAddress = temporal!.address;
    await migrateLatest(databaseUrl);
    const db = connectDatabase(databaseUrl, 4);
    parts.add({ name: 'database pool', stop: () => db.destroy() });
    const provider = await startFakeProvider({ seed: SEED, token: TOKEN, logger });
    parts.add({ name: 'fake provider', stop: () => provider.stop() });

    // Workers start from a prebuilt bundle, as in production: quicker restarts, less memory.
    const workflowBundle = path.join(dir, 'workflow-bundle.js');
    // As worker/bundle.ts builds it, minus webpack's report.
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('WARN') });
    await writeFile(workflowBundle, code);
    const workerEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...WORKER_SETTINGS,
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WORKFLOW_BUNDLE_PATH: workflowBundle,
      SEND_API_URL: provider.url,
      SEND_API_TOKEN: TOKEN,
    };
    const workers: WorkerProcess[] = [];
    parts.add({ name: 'workers', stop: async () => void (await Promise.all(workers.map((w) => w.stop()))) });
    const startWorker = async (name: string) => {
      const worker = new WorkerProcess(name, workerEnv);
      workers.push(worker);
      await worker.start();
      return worker;
    };
    signals.throwIfRequested();

    // ---- the audience, straight into the database; the mailing through the domain service ----
    say(`seeding ${CLIENTS} clients; starting workers A and B`);
    const [workerA, workerB] = await Promise.all([
      startWorker('A'),
      startWorker('B'),
      db.raw(
        `INSERT INTO clients (phone_number, mobile_operator_code, tag, timezone)
         SELECT p, substr(p, 2, 3), ?, 'UTC' FROM (SELECT '7' || lpad(g::text, 10, '0') AS p FROM generate_series(1, ?) g) s`,
        [TAG, CLIENTS],
      ),
    ]);
    await db.raw('ANALYZE clients');
    const phones: string[] = (await db('clients').where({ tag: TAG }).select('phone_number')).map((r: { phone_number: string }) => r.phone_number);
    signals.throwIfRequested();

    provider.setFaults(FAULTS);
    const connection = await Connection.connect({ address: temporalAddress });
    const temporalClient = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const service = createMailingService({ temporal: temporalClient, taskQueue: TASK_QUEUE, limits: sendLimits(config), stopWaitMs: config.MAILING_STOP_WAIT_MS, logger });
    const startAt = Date.now();
    const endAt = startAt + WINDOW_MINUTES * 60_000;
    const mailing = await service.create({ start_at: new Date(startAt).toISOString(), end_at: new Date(endAt).toISOString(), text: 'Fault run', filter: { tag: TAG } });
    // Not needed again, and the Temporal restart below would only break it.
    await connection.close();
    say(
      `mailing ${mailing.id} to ${CLIENTS} clients, ${WINDOW_MINUTES} min window (end_at ${new Date(endAt).toISOString()}); ` +
        `faults ${JSON.stringify(FAULTS)}; workers ${workers.map((w) => `${w.name} pid ${w.pid}`).join(', ')}: ` +
        `SEND_TIMEOUT_MS ${config.SEND_TIMEOUT_MS}, SEND_CONCURRENCY ${config.SEND_CONCURRENCY}, SEND_RETRY_INITIAL_MS ${config.SEND_RETRY_INITIAL_MS}, ` +
        `SEND_RETRY_MAX_MS ${config.SEND_RETRY_MAX_MS}, SEND_OUTAGE_THRESHOLD ${config.SEND_OUTAGE_THRESHOLD}, provider seed ${SEED}`,
    );

    // ---- progress and the fault timeline ----
    const delivered = () => deliveredSoFar(provider.received());
    const reportedExits = new Set<WorkerProcess>();
    let lastProgress = Date.now();
    const pendingNow = async () => {
      try {
        const { rows } = await db.raw("SELECT count(*)::int AS n FROM messages WHERE mailing_id = ? AND status = 'pending'", [mailing.id]);
        return String(rows[0].n);
      } catch {
        return 'unknown (database unreachable)';
      }
    };
    const watch = async () => {
      for (const w of workers) {
        if (w.unexpectedExit && !reportedExits.has(w)) {
          reportedExits.add(w);
          say(`WORKER ${w.name} (pid ${w.pid}) ${w.unexpectedExit} without being told to; last lines:\n${w.tail(20)}`);
        }
      }
      if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now();
        say(`  ${delivered()}/${CLIENTS} delivered, ${provider.received().length} requests, pending ${await pendingNow()}`);
      }
    };
    /** Waits until `share` of the audience is delivered; false after STEP_TIMEOUT_MS. */
    const reach = async (share: number) => {
      const target = Math.ceil(share * CLIENTS);
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (delivered() < target) {
        await watch();
        if (Date.now() > deadline) {
          say(`  ${Math.round(share * 100)}% not delivered after ${seconds(STEP_TIMEOUT_MS)} (at ${delivered()}): taking the next step anyway`);
          return false;
        }
        await pause(250);
      }
      return true;
    };
    const step = async (share: number, what: string, act: () => Promise<void>) => {
      await reach(share);
      say(`${delivered()}/${CLIENTS} delivered: ${what}`);
      await act();
    };
    const kill = async (worker: WorkerProcess, replacement: string) => {
      await worker.kill('SIGKILL');
      say(`  worker ${worker.name} (pid ${worker.pid}) SIGKILLed; starting worker ${replacement}`);
      const fresh = await startWorker(replacement);
      say(`  worker ${replacement} (pid ${fresh.pid}) running`);
    };

    await step(0.1, 'SIGKILL worker A', () => kill(workerA, "A'"));
    await step(0.2, `provider outage of ${seconds(OUTAGE_MS)}`, async () => {
      provider.outage(OUTAGE_MS);
      const until = Date.now() + OUTAGE_MS;
      while (Date.now() < until) {
        await watch();
        await pause(250);
      }
      say('  provider back');
    });
    await step(0.35, 'PostgreSQL restart', async () => {
      await postgres!.stop();
      say(`  PostgreSQL stopped; starting it again in ${seconds(RESTART_PAUSE_MS)}`);
      await pause(RESTART_PAUSE_MS);
      await startPostgres();
      say('  PostgreSQL running');
    });
    await step(0.5, 'Temporal dev server restart', async () => {
      await temporal!.stop();
      say(`  Temporal stopped; starting it again in ${seconds(RESTART_PAUSE_MS)}`);
      await pause(RESTART_PAUSE_MS);
      await startTemporal();
      say('  Temporal running');
    });
    await step(0.65, 'SIGKILL worker B', () => kill(workerB, "B'"));
    provider.setFaults({});
    const faultsEndedAt = Date.now();
    say(`faults cleared: the last fault ended at ${new Date(faultsEndedAt).toISOString()} (${delivered()}/${CLIENTS} delivered)`);

    // ---- until the mailing is final (or well past its end) ----
    const giveUpAt = endAt + 60_000;
    let status = 'unknown';
    let finishedAt = NaN;
    for (;;) {
      await watch();
      try {
        const row = await db('mailings').where({ id: mailing.id }).first('status', 'updated_at');
        status = row.status;
        if (['finished', 'expired', 'cancelled'].includes(status)) {
          finishedAt = new Date(row.updated_at).getTime();
          break;
        }
      } catch {
        // PostgreSQL unreachable: try again
      }
      if (Date.now() > giveUpAt) break;
      await pause(500);
    }
    const wallMs = Date.now() - started;
    say(`mailing ${mailing.id} ${status}${Number.isNaN(finishedAt) ? ` (gave up ${seconds(giveUpAt - endAt)} after end_at)` : ''}`);

    // ---- figures: the provider's record and the database ----
    const rows: { id: string; status: string; attempts: number }[] = await db('messages').where({ mailing_id: mailing.id }).select('id', 'status', 'attempts');
    const report = auditDeliveries(provider.received(), new Set(rows.map((r) => Number(r.id))), phones, endAt);
    const statuses: Record<string, number> = {};
    for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const pending = statuses.pending ?? 0;
    const maxAttempts = rows.reduce((max, r) => Math.max(max, r.attempts), 0);
    const toLastDelivery = report.lastDeliveryAt - faultsEndedAt;
    const toFinished = finishedAt - faultsEndedAt;
    const checks: [string, boolean][] = [
      ['nothing lost', report.lost === 0],
      ['nothing late', report.late === 0],
      ['no client with two messages', report.clientsWithTwoMessages === 0],
      [`every message delivered within ${seconds(DELIVERY_BOUND_MS)} of the last fault ending`, report.lost === 0 && toLastDelivery <= DELIVERY_BOUND_MS],
    ];
    const failed = checks.filter(([, ok]) => !ok).map(([what]) => what);
    const timeouts = await timeoutsInHistory(temporalAddress, config.TEMPORAL_NAMESPACE, mailingWorkflowId(mailing.id)).then(
      (counts) => JSON.stringify(counts),
      (error) => `unknown (${(error as Error).message})`,
    );
    const changed = changedFiles(codeAtStart, codeSnapshot());
    if (changed.length) say(`WARNING: the service's code changed during the run, so workers started at different times ran different code: ${changed.join(', ')}`);
    // Times as in the [ ...s] stamps of the lines above.
    const at = (ms: number) => `at ${((ms - started) / 1000).toFixed(1)}s`;
    say(
      `details: first delivery ${at(report.firstDeliveryAt)}, last fault ended ${at(faultsEndedAt)}, last delivery ${at(report.lastDeliveryAt)}; ` +
        `longest pauses between deliveries ${report.longestPauses.map((p) => `${seconds(p.ms)} ${at(p.from)}`).join(', ')}; timeouts in the workflow's history ${timeouts}; provider answers ${JSON.stringify(report.byOutcome)}; message statuses ${JSON.stringify(statuses)}; ` +
        `worker error log lines ${workers.map((w) => `${w.name} ${w.errorLines}`).join(', ')}; ` +
        `unexpected worker exits ${workers.filter((w) => w.unexpectedExit).map((w) => `${w.name} ${w.unexpectedExit}`).join(', ') || 'none'}`,
    );
    console.log(
      `FAULT RUN ${failed.length ? 'FAILED' : 'PASSED'}: ${report.delivered} delivered of ${CLIENTS}, ${report.requests} requests, ` +
        `${report.deliveredTwice} msgIds accepted twice, ${report.clientsWithTwoMessages} clients with two messages, ` +
        `${report.late} late, ${report.lost} lost, ${pending} still pending, max ${maxAttempts} attempts, ` +
        `last fault end to last delivery ${Number.isNaN(toLastDelivery) ? 'n/a' : seconds(toLastDelivery)}, ` +
        `to ${status} ${Number.isNaN(toFinished) ? 'n/a (not final)' : seconds(toFinished)}, wall time ${seconds(wallMs)}` +
        (failed.length ? `; failed: ${failed.join('; ')}` : ''),
    );
    return failed.length ? 1 : 0;
  } catch (error) {
    if (error instanceof StopRequested) {
      say('stopped on request; cleaning up');
      return 130;
    }
    console.error(error);
    return 1;
  } finally {
    await parts.stopAll();
  }
}

runMain(main);
