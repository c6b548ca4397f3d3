import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { ManagedProcess } from '../stack/process/managed-process';
import { repoRoot } from '../stack/repo-root';
import { StopRequested, type StopSignals } from '../stack/process/script';
import type { Database } from '../storage/database';
import type { BenchContext } from './context';
import { loadAverage, machineBusySeconds, statusKb, treeCpuSeconds } from './proc';

/** What the scenarios of `npm run bench` share: progress lines, CPU and memory accounting, waits. */

const started = Date.now();
export const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);
export const benchStartedAt = started;

/** A process whose CPU is accounted, with its children (postgres backends, …). */
export interface Accounted {
  name: string;
  pid: number;
}

export interface CpuSnapshot {
  at: number;
  trees: number[];
  bench: number;
  machine: number;
}

export function cpuSnapshot(parts: Accounted[]): CpuSnapshot {
  const own = process.cpuUsage();
  return { at: Date.now(), trees: treeCpuSeconds(parts.map((p) => p.pid)), bench: (own.user + own.system) / 1e6, machine: machineBusySeconds() };
}

/** CPU seconds between two snapshots: of each part, this process, everything else, the machine. */
export interface CpuUse {
  wallSeconds: number;
  /** Name to CPU seconds; `bench process` is this process, `other processes` is load not ours. */
  seconds: Record<string, number>;
  machine: number;
}

export function cpuUse(parts: Accounted[], from: CpuSnapshot, to: CpuSnapshot): CpuUse {
  const seconds: Record<string, number> = {};
  parts.forEach(({ name }, i) => (seconds[name] = to.trees[i] - from.trees[i]));
  seconds['bench process'] = to.bench - from.bench;
  const machine = to.machine - from.machine;
  const ours = Object.values(seconds).reduce((sum, s) => sum + s, 0);
  // Clamped: the per-process and machine counters are read a moment apart.
  seconds['other processes'] = Math.max(0, machine - ours);
  return { wallSeconds: (to.at - from.at) / 1000, seconds, machine };
}

/** Rows "% of one core" for a table; the machine has 2 cores, so 200% is all of it. */
export function cpuRows(use: CpuUse): [string, string][] {
  const pct = (cpu: number) => `${((100 * cpu) / use.wallSeconds).toFixed(0)}%  (${cpu.toFixed(1)} s)`;
  return [...Object.entries(use.seconds).map(([name, cpu]) => [name, pct(cpu)] as [string, string]), ['machine total (200% = 2 cores)', pct(use.machine)]];
}

/** Samples a process's resident memory; VmHWM is the kernel's own peak, read once more at the end. */
export function memorySampler(pid: number, everyMs = 200) {
  let peakRssKb = 0;
  let hwmKb = 0;
  const sample = () => {
    peakRssKb = Math.max(peakRssKb, statusKb(pid, 'VmRSS') ?? 0);
    hwmKb = Math.max(hwmKb, statusKb(pid, 'VmHWM') ?? 0);
  };
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return { hwmMb: hwmKb / 1024, peakRssMb: peakRssKb / 1024 };
    },
  };
}

/** `work`, unless a stop comes first (StopRequested); whichever loses is not left as an unhandled rejection. */
export function untilStopped<T>(signals: StopSignals, work: Promise<T>): Promise<T> {
  const stopped = signals.received.then((signal): never => {
    throw new StopRequested(`stop requested (${signal})`);
  });
  stopped.catch(() => undefined);
  work.catch(() => undefined);
  return Promise.race([work, stopped]);
}

/**
 * Waits until the given worker polls the task queue: the Temporal worker's default identity is
 * `<pid>@<host>`, so a poller left over from a stopped worker does not count.
 */
export async function waitForWorkerPolling(temporal: Client, taskQueue: string, worker: ManagedProcess, signals: StopSignals) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    signals.throwIfRequested();
    const { pollers } = await temporal.workflowService.describeTaskQueue({ namespace: temporal.options.namespace, taskQueue: { name: taskQueue } });
    if (pollers.some((p) => p.identity?.startsWith(`${worker.pid}@`))) return;
    if (Date.now() > deadline) throw new Error(`worker ${worker.pid} did not poll its task queue within 2 min`);
    await sleep(100);
  }
}

export interface Watch {
  /** A stack part or the worker died: the reason; checked by every wait. */
  died?: string;
}

/** Follows the processes a scenario needs; `watch.died` is set when one exits. */
export function watchProcesses(stackDied: Promise<string>, processes: ManagedProcess[]): Watch {
  const watch: Watch = {};
  void stackDied.then((why) => (watch.died ??= why));
  for (const p of processes) void p.exited.then((status) => (watch.died ??= `${p.name} (pid ${p.pid}) exited unexpectedly (${JSON.stringify(status)})`));
  return watch;
}

/**
 * Polls the mailings' status until each is final; returns when each was first seen final (ms since
 * the epoch, at 250 ms resolution). Throws on a stop request, a dead process or after `giveUpMs`.
 */
export async function waitForMailings(
  db: Database,
  ids: number[],
  opts: { signals: StopSignals; watch: Watch; giveUpMs: number; progress?: () => Promise<void> },
): Promise<Map<number, { status: string; seenAt: number }>> {
  const done = new Map<number, { status: string; seenAt: number }>();
  const deadline = Date.now() + opts.giveUpMs;
  for (let poll = 0; ; poll++) {
    opts.signals.throwIfRequested();
    if (opts.watch.died) throw new Error(opts.watch.died);
    if (Date.now() > deadline) throw new Error(`mailings ${ids.filter((id) => !done.has(id)).join(', ')} did not finish within ${opts.giveUpMs / 60_000} min`);
    const open = ids.filter((id) => !done.has(id));
    const { rows } = await db.raw(`SELECT id, status FROM mailings WHERE id = ANY(?::bigint[]) AND status IN ('finished', 'expired', 'cancelled')`, [open]);
    const now = Date.now();
    for (const row of rows as { id: string; status: string }[]) done.set(Number(row.id), { status: row.status, seenAt: now });
    if (done.size === ids.length) return done;
    if (opts.progress && poll % 40 === 39) await opts.progress();
    await sleep(250);
  }
}

/**
 * Every scenario and every measured run starts from the same database state: the given tables
 * emptied (their sequences go on, so mailing ids and Temporal workflow ids never repeat), a
 * checkpoint, and fresh statistics.
 */
export async function freshTables(db: Database, tables: string[]): Promise<void> {
  await db.raw(`TRUNCATE ${tables.join(', ')}`);
  await db.raw('CHECKPOINT');
  await db.raw('VACUUM ANALYZE');
}

/**
 * The planner statistics of a database with a past: a finished mailing to every client, all sent,
 * analyzed, then emptied (TRUNCATE keeps the statistics). A mailing that starts is never in them,
 * and 'pending' is rare in them, as in production; a cluster that never had messages has no
 * statistics at all, and PostgreSQL then picks other plans (see the README's Benchmark section).
 * So every measured run starts from the same statistics, the first one included.
 */
export async function pastMailingStatistics(db: Database): Promise<void> {
  const { rows } = await db.raw(
    `INSERT INTO mailings (start_at, end_at, text, status, audience_done)
     VALUES (now() - interval '2 days', now() - interval '1 day', 'A past mailing', 'finished', true) RETURNING id`,
  );
  await db.raw(
    `INSERT INTO messages (mailing_id, client_id, phone, status, attempts, due_at, sent_at)
     SELECT ?, id, phone_number, 'sent', 1, now() - interval '2 days', now() - interval '1 day' FROM clients ORDER BY id`,
    [rows[0].id],
  );
  await db.raw('ANALYZE messages');
  await freshTables(db, ['messages', 'mailing_count_shards']);
}

/** `n` clients with phones 7000000001…, mobile operator codes 000–999 and the given tag expression of g. */
export async function seedClients(db: Database, n: number, tagSql = `'bench'`): Promise<number> {
  const start = Date.now();
  await db.raw(
    `INSERT INTO clients (phone_number, mobile_operator_code, tag, timezone)
     SELECT '7' || lpad(g::text, 10, '0'), lpad((g % 1000)::text, 3, '0'), ${tagSql}, 'UTC' FROM generate_series(1, ?) g`,
    [n],
  );
  // A directory that has been there a while has statistics; fresh rows have none yet.
  await db.raw('ANALYZE clients');
  return Date.now() - start;
}

/** Largest run of a workflow (every run, continue-as-new included): events and bytes of each run's history. */
export async function historySizes(temporal: Client, workflowId: string): Promise<{ runs: number; events: number[]; bytes: number[] }> {
  const events: number[] = [];
  const bytes: number[] = [];
  for await (const execution of temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const described = await temporal.workflow.getHandle(workflowId, execution.runId).describe();
    events.push(described.historyLength);
    bytes.push(described.historySize ?? NaN);
  }
  return { runs: events.length, events, bytes };
}

/** Which code was measured: other work may be uncommitted while the benchmark runs. */
export function codeVersion(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
  try {
    // Porcelain lines are "XY path": the status letters, a space, the path.
    const changed = git('status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean).map((line) => line.slice(3));
    return `${git('rev-parse', '--short', 'HEAD').trim()}${changed.length ? ` + uncommitted changes to ${changed.join(', ')}` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export { loadAverage };

/** A positive integer setting of the benchmark from the environment. */
export function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
}


/** Value at the p-th percentile (nearest rank) of the samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (samples: number[]) => {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export function printTable(title: string, rows: string[][], header?: string[]) {
  const all = header ? [header, ...rows] : rows;
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `  ${r.map((cell, i) => (i === r.length - 1 ? cell : (cell ?? '').padEnd(widths[i]))).join('  ')}`.trimEnd();
  console.log(`\n${title}`);
  if (header) {
    console.log(line(header));
    console.log(line(widths.map((w) => '-'.repeat(w))));
  }
  for (const row of rows) console.log(line(row));
}

/**
 * A poor man's profile of PostgreSQL: samples pg_stat_activity every `everyMs` and counts the
 * statements running (and what they wait on). `backends` is how many were running on average.
 */
export function statementSampler(db: Database, everyMs = 100) {
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { rows } = await db.raw(
          `SELECT query, wait_event_type, wait_event FROM pg_stat_activity
           WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend'`,
        );
        samples++;
        for (const row of rows as { query: string; wait_event_type: string | null; wait_event: string | null }[]) {
          const text = row.query.replace(/\s+/g, ' ').trim().slice(0, 100);
          const key = `${text}${row.wait_event ? `  [waits: ${row.wait_event_type}/${row.wait_event}]` : ''}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      } catch {
        // a sample lost to a busy pool is no loss
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop(top = 8) {
      running = false;
      await loop;
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      return {
        samples,
        backends: samples ? total / samples : 0,
        top: [...counts]
          .sort((a, b) => b[1] - a[1])
          .slice(0, top)
          .map(([statement, n]) => ({ statement, backends: n / samples })),
      };
    },
  };
}

export type StatementProfile = Awaited<ReturnType<ReturnType<typeof statementSampler>['stop']>>;

export function printStatements(title: string, profile: StatementProfile) {
  printTable(
    `${title}: statements running, sampled every 100 ms (${profile.samples} samples, ${profile.backends.toFixed(2)} backends active on average)`,
    profile.top.map((s) => [s.backends.toFixed(2), s.statement]),
    ['backends', 'statement (first 100 characters) [what it waited on]'],
  );
}

/**
 * A fresh worker process for one measured run (its peak memory is that run's), polling the task queue,
 * watched for an early exit and sampled for memory; `parts` are the processes whose CPU the run counts.
 */
export async function startMeasuredWorker(ctx: BenchContext) {
  const { stack, temporal, config, signals } = ctx;
  // The scenario's concurrency, which may differ from the environment's (the `wide` scenario).
  const worker = await stack.startWorker({ SEND_CONCURRENCY: String(config.SEND_CONCURRENCY) });
  await waitForWorkerPolling(temporal, config.TEMPORAL_TASK_QUEUE, worker, signals);
  return {
    worker,
    watch: watchProcesses(stack.died, [worker]),
    memory: memorySampler(worker.pid),
    parts: [{ name: 'worker', pid: worker.pid }, ...ctx.stackParts],
  };
}
