import { setTimeout as sleep } from 'node:timers/promises';
import * as mailingCounts from '../storage/mailing-counts';
import { mailingWorkflowId } from '../workflows/mailing';
import {
  cpuRows,
  cpuSnapshot,
  cpuUse,
  freshTables,
  historySizes,
  loadAverage,
  pastMailingStatistics,
  printStatements,
  printTable,
  say,
  seedClients,
  startMeasuredWorker,
  watchProcesses,
  statementSampler,
  untilStopped,
  waitForMailings,
  type CpuUse,
  type StatementProfile,
  type Watch,
} from './common';
import type { CeilingResult } from './ceiling-client';
import { providerCeiling } from './provider-ceiling';
import type { ReceivedSummary } from './provider-control';
import { providerLimit, TEXT, type BenchContext, type ScenarioResult } from './context';
import { fmt, repeated, type SummaryRow } from './summary';

/**
 * The main scenario: one mailing to `clients` clients through the whole service, and the same sends
 * by the plain loop of bench/baseline.ts, `repeat` times each. Every run starts from the same state
 * (pastMailingStatistics: the planner statistics of a past mailing, then the messages and counters
 * emptied, CHECKPOINT, VACUUM ANALYZE), and the two take turns going first. Before each pair, the
 * provider's ceiling: what a load tool alone gets from it at the same requests in flight.
 */

const START_DELAY_MS = 3_000;
const GIVE_UP_MS = 30 * 60_000;
/** Most provider records looked up per run to find the first request (each lookup scans the record). */
const FIRST_ARRIVAL_LOOKUPS = 1_024;

interface ServiceRun {
  mailingId: number;
  status: string;
  sent: number;
  firstSendMs: number;
  /** From polling the provider's counter: the first request came before this (a check of firstSendMs). */
  firstSeenByPollMs: number;
  audienceFirstMs: number;
  audienceLastMs: number;
  rate: number;
  /** From the start of the last audience chunk to the last send: the pace without the recording beside it. */
  rateAfterAudience: number;
  wallMs: number;
  memory: { hwmMb: number; peakRssMb: number };
  cpu: CpuUse;
  history: { runs: number; events: number[]; bytes: number[] };
  statements: StatementProfile;
  received: ReceivedSummary;
  checks: [string, boolean][];
}

interface BaselineRun {
  mailingId: number;
  sent: number;
  rate: number;
  wallMs: number;
  cpu: CpuUse;
  checks: [string, boolean][];
}

/** The `wide` scenario's requests in flight: issue 8 asks for "a higher SEND_CONCURRENCY (say 256) as fast as 2 cores allow". */
export const WIDE_CONCURRENCY = 256;

/**
 * `main` at the configured SEND_CONCURRENCY, or `wide`: the same at WIDE_CONCURRENCY, where the
 * cores, not the provider, set the pace; it reports speed, CPU and memory against the loop's.
 */
export async function mainScenario(ctx: BenchContext, clients: number, repeat: number, scenario: 'main' | 'wide' = 'main'): Promise<ScenarioResult> {
  if (scenario === 'wide') ctx = { ...ctx, config: { ...ctx.config, SEND_CONCURRENCY: WIDE_CONCURRENCY } };
  const { db } = ctx;
  say(`${scenario} scenario: ${fmt(clients)} clients, ${ctx.config.SEND_CONCURRENCY} requests in flight, service and baseline ${repeat} time(s) each, alternating which goes first`);
  await freshTables(db, ['messages', 'mailing_count_shards', 'mailings', 'clients']);
  const seedMs = await seedClients(db, clients);
  say(`seeded ${fmt(clients)} clients in ${seedMs} ms`);

  const service: ServiceRun[] = [];
  const baseline: BaselineRun[] = [];
  const ceilings: CeilingResult[] = [];
  const order: string[] = [];
  for (let r = 0; r < repeat; r++) {
    const ceiling = await providerCeiling({ url: ctx.stack.providerUrl, token: ctx.stack.token }, ctx.config.SEND_CONCURRENCY);
    await ctx.control.clear();
    say(`provider ceiling ${r + 1}: a load tool alone gets ${fmt(ceiling.rate)} answers/s at ${ctx.config.SEND_CONCURRENCY} in flight (mean ${ceiling.latencyMeanMs.toFixed(1)} ms each)`);
    ceilings.push(ceiling);
    const serviceFirst = r % 2 === 0;
    order.push(serviceFirst ? 'service, baseline' : 'baseline, service');
    for (const which of serviceFirst ? ['service', 'baseline'] : ['baseline', 'service']) {
      ctx.signals.throwIfRequested();
      if (which === 'service') service.push(await serviceRun(ctx, clients, r + 1));
      else baseline.push(await baselineRun(ctx, clients, r + 1));
    }
  }

  const limit = providerLimit(ctx.config);
  const per1000 = (run: { cpu: CpuUse; sent: number }, name: string) => run.cpu.seconds[name] / (run.sent / 1000);
  const ceilingChecks = ceilings.map((c, i): [string, boolean] => [`provider ceiling ${i + 1}: every request answered 2xx`, c.failed === 0]);
  const sanity = [...service.flatMap((s) => s.checks), ...baseline.flatMap((b) => b.checks), ...ceilingChecks].map(([check, ok]): [string, boolean] => [scenario === 'wide' ? `wide: ${check}` : check, ok]);
  const details = { clients, repeat, order, seedMs, concurrency: ctx.config.SEND_CONCURRENCY, ceilings, service, baseline };
  const loopRate = repeated(scenario, 'baseline (plain loop): messages/s', 'msg/s', baseline.map((b) => b.rate));
  const versusLoop = repeated(scenario, 'service / baseline (per repeat)', '%', service.map((s, i) => (100 * s.rate) / baseline[i].rate));
  const ceilingRows = [
    repeated(scenario, 'provider ceiling: a load tool alone (autocannon), same requests in flight', 'msg/s', ceilings.map((c) => c.rate)),
    repeated(scenario, "  its % of the provider's limit", '%', ceilings.map((c) => (100 * c.rate) / limit)),
    repeated(scenario, '  its mean answer time', 'ms', ceilings.map((c) => c.latencyMeanMs), 1),
    repeated(scenario, 'service / provider ceiling (per repeat)', '%', service.map((s, i) => (100 * s.rate) / ceilings[i].rate)),
  ];
  const workerCpu = repeated(scenario, 'worker CPU per 1,000 messages', 's', service.map((s) => per1000(s, 'worker')), 3);
  const postgresCpu = repeated(scenario, 'PostgreSQL CPU per 1,000 messages (service)', 's', service.map((s) => per1000(s, 'postgres')), 3);
  const loopCpu = repeated(scenario, 'baseline loop (its own process) CPU per 1,000 messages', 's', baseline.map((b) => per1000(b, 'baseline process')), 3);
  const workerPeak = repeated(scenario, 'worker peak memory (VmHWM)', 'MB', service.map((s) => s.memory.hwmMb), 0, { text: '< 300 MB', ok: (v) => v < 300 });
  if (scenario === 'wide') {
    const summary: SummaryRow[] = [
      repeated(scenario, `service: messages/s at ${WIDE_CONCURRENCY} requests in flight`, 'msg/s', service.map((s) => s.rate)),
      repeated(scenario, `service: % of the provider's limit (${WIDE_CONCURRENCY} / 20 ms = ${fmt(limit)}/s)`, '%', service.map((s) => (100 * s.rate) / limit)),
      loopRate,
      versusLoop,
      ...ceilingRows,
      workerCpu,
      postgresCpu,
      loopCpu,
      repeated(scenario, 'machine busy during the service runs (200% = both cores)', '%', service.map((s) => (100 * s.cpu.machine) / s.cpu.wallSeconds)),
      workerPeak,
    ];
    return { summary, sanity, details };
  }
  const summary: SummaryRow[] = [
    repeated(scenario, `first send: start_at → first provider request (${fmt(clients)} clients)`, 'ms', service.map((s) => s.firstSendMs), 0, { text: '< 1,000 ms', ok: (v) => v < 1_000 }),
    repeated(scenario, '  start_at → first audience chunk written', 'ms', service.map((s) => s.audienceFirstMs)),
    repeated(scenario, '  start_at → last audience chunk written', 's', service.map((s) => s.audienceLastMs / 1000), 1),
    repeated(scenario, 'service: messages/s (first request → last sent_at)', 'msg/s', service.map((s) => s.rate)),
    repeated(scenario, '  from the last audience chunk on (no recording beside the sends)', 'msg/s', service.map((s) => s.rateAfterAudience)),
    repeated(scenario, `service: % of the provider's limit (${ctx.config.SEND_CONCURRENCY} / 20 ms = ${fmt(limit)}/s)`, '%', service.map((s) => (100 * s.rate) / limit), 0, {
      text: '>= 90%',
      ok: (v) => v >= 90,
    }),
    loopRate,
    repeated(scenario, "baseline: % of the provider's limit", '%', baseline.map((b) => (100 * b.rate) / limit)),
    versusLoop,
    ...ceilingRows,
    workerCpu,
    postgresCpu,
    repeated(scenario, 'worker + PostgreSQL CPU per 1,000 messages', 's', service.map((s) => per1000(s, 'worker') + per1000(s, 'postgres')), 3, {
      text: '<= 0.150 s (half of 0.3)',
      ok: (v) => v <= 0.15,
    }),
    repeated(scenario, 'Temporal server CPU per 1,000 messages', 's', service.map((s) => per1000(s, 'temporal')), 3),
    loopCpu,
    repeated(scenario, 'PostgreSQL CPU per 1,000 messages (baseline)', 's', baseline.map((b) => per1000(b, 'postgres')), 3),
    workerPeak,
    repeated(scenario, "largest run's history: events", 'events', service.map((s) => Math.max(...s.history.events)), 0, {
      text: '< 10,240 (Temporal warns there; limit 51,200)',
      ok: (v) => v < 10_240,
    }),
    repeated(scenario, "largest run's history: size", 'KB', service.map((s) => Math.max(...s.history.bytes) / 1024)),
    repeated(scenario, 'workflow runs (continue-as-new)', 'runs', service.map((s) => s.history.runs)),
    repeated(scenario, 'mailing wall time (create → finished seen)', 's', service.map((s) => s.wallMs / 1000), 1),
    repeated(scenario, 'CPU of other processes during the service runs', '% of a core', service.map((s) => (100 * s.cpu.seconds['other processes']) / s.cpu.wallSeconds)),
    repeated(scenario, 'CPU of other processes during the baseline runs', '% of a core', baseline.map((b) => (100 * b.cpu.seconds['other processes']) / b.cpu.wallSeconds)),
  ];
  return { summary, sanity, details };
}

async function serviceRun(ctx: BenchContext, n: number, index: number): Promise<ServiceRun> {
  const { db, control, temporal, config, signals } = ctx;
  // Autoanalyze may have run during the previous run: the statistics are laid anew each time.
  await pastMailingStatistics(db);
  await control.clear();
  const { worker, watch, memory, parts } = await startMeasuredWorker(ctx);

  const createdAt = Date.now();
  const startAt = createdAt + START_DELAY_MS;
  const mailing = await ctx.service.create({ start_at: new Date(startAt).toISOString(), end_at: new Date(createdAt + 3 * 3_600_000).toISOString(), text: TEXT, filter: {} });
  say(`service run ${index}: mailing ${mailing.id} created, starting at ${new Date(startAt).toISOString()} (load average ${loadAverage()})`);
  const polled = firstSeenByPolling(control, startAt, watch);
  // CPU is counted from start_at: the wait before it would only dilute the shares.
  await sleep(startAt - Date.now());
  const before = cpuSnapshot(parts);
  const statements = statementSampler(db);
  const done = await waitForMailings(db, [mailing.id], {
    signals,
    watch,
    giveUpMs: GIVE_UP_MS,
    progress: async () => say(`  provider received ${fmt((await control.summary()).total)}`),
  });
  const after = cpuSnapshot(parts);
  const mem = memory.stop();
  const profile = await statements.stop();
  const { status, seenAt } = done.get(mailing.id)!;
  // Stopped so that it neither competes with the baseline for CPU nor sees its rows.
  await worker.stop();

  const firstSeen = await polled;
  const sent = await sentFigures(ctx, mailing.id, n);
  const candidates = firstCandidates(sent.lowestIds, ctx.limits, config.SEND_CONCURRENCY);
  const firstArrival = await control.firstArrival(candidates);
  const history = await historySizes(temporal, mailingWorkflowId(mailing.id));
  const cpu = cpuUse(parts, before, after);
  const run: ServiceRun = {
    mailingId: mailing.id,
    status,
    sent: sent.counts.sent,
    firstSendMs: firstArrival - startAt,
    firstSeenByPollMs: firstSeen - startAt,
    audienceFirstMs: sent.audienceFirst - startAt,
    audienceLastMs: sent.audienceLast - startAt,
    rate: sent.counts.sent / ((sent.lastSent - firstArrival) / 1000),
    rateAfterAudience: sent.sentAfterAudience / ((sent.lastSent - sent.audienceLast) / 1000),
    wallMs: seenAt - createdAt,
    memory: mem,
    cpu,
    history,
    statements: profile,
    received: sent.received,
    checks: [
      [`service ${index}: mailing finished`, status === 'finished'],
      [`service ${index}: all ${n} messages sent`, sent.counts.sent === n],
      [`service ${index}: provider received ${n} distinct msgIds, no duplicates, all answered ok`, sent.received.distinctMsgIds === n && sent.received.total === n && sent.received.byOutcome.ok === n],
      [`service ${index}: mailing_counts equal count(*) by status`, sent.countersRight],
      [`service ${index}: first request found in the provider's record (not after the polled bound)`, firstArrival <= firstSeen],
    ],
  };
  say(
    `service run ${index}: ${status}; first request ${run.firstSendMs} ms after start_at, ${fmt(run.rate)} msg/s, ` +
      `worker peak ${fmt(mem.hwmMb)} MB, history ${history.events.join(' + ')} events in ${history.runs} run(s)`,
  );
  printTable(`CPU of service run ${index}, start_at to finished (${cpu.wallSeconds.toFixed(1)} s), % of one core`, cpuRows(cpu));
  printStatements(`PostgreSQL during service run ${index}`, profile);
  return run;
}

async function baselineRun(ctx: BenchContext, n: number, index: number): Promise<BaselineRun> {
  const { db, control, stack, config } = ctx;
  // Autoanalyze may have run during the previous run: the statistics are laid anew each time.
  await pastMailingStatistics(db);
  await control.clear();
  say(`baseline run ${index}: the same sends by a plain loop in its own process, without Temporal (load average ${loadAverage()})`);
  const loop = await stack.startBaseline({ SEND_CONCURRENCY: String(config.SEND_CONCURRENCY) });
  const parts = [{ name: 'baseline process', pid: loop.pid }, ...ctx.stackParts];
  const watch = watchProcesses(stack.died, []);
  const before = cpuSnapshot(parts);
  const started = Date.now();
  // A stop ends the benchmark at once; the loop's process is stopped with the stack (see startBaseline).
  const mailingId = await untilStopped(ctx.signals, loop.run());
  const wallMs = Date.now() - started;
  const after = cpuSnapshot(parts);
  await loop.end();
  if (watch.died) throw new Error(watch.died);
  const sent = await sentFigures(ctx, mailingId, n);
  // The loop's senders take the messages in id order: the first request is among the lowest ids.
  const firstArrival = await control.firstArrival(sent.lowestIds.slice(0, config.SEND_CONCURRENCY));
  const cpu = cpuUse(parts, before, after);
  const rate = sent.counts.sent / ((sent.lastSent - firstArrival) / 1000);
  say(`baseline run ${index}: ${fmt(rate)} msg/s`);
  printTable(`CPU of baseline run ${index} (${cpu.wallSeconds.toFixed(1)} s, INSERT..SELECT of the messages included), % of one core`, cpuRows(cpu));
  return {
    mailingId,
    sent: sent.counts.sent,
    rate,
    wallMs,
    cpu,
    checks: [
      [`baseline ${index}: all ${n} sent, once each`, sent.counts.sent === n && sent.received.total === n && sent.received.distinctMsgIds === n],
      [`baseline ${index}: mailing_counts equal count(*) by status`, sent.countersRight],
    ],
  };
}

/** A run's figures from the database and the provider's record. */
async function sentFigures(ctx: BenchContext, mailingId: number, n: number) {
  const { db, control, limits, config } = ctx;
  const counts = (await mailingCounts.countsByMailing([mailingId])).get(mailingId)!;
  const counted: { status: string; count: string }[] = (await db.raw('SELECT status, count(*) FROM messages WHERE mailing_id = ? GROUP BY status', [mailingId])).rows;
  const countersRight = counted.every((row) => counts[row.status as keyof typeof counts] === Number(row.count)) && Object.values(counts).reduce((a, b) => a + b, 0) === n;
  const { last_sent_at } = mailingCounts.toSendTimes((await mailingCounts.sendTimesQuery(mailingId, 0, 0)).rows[0]);
  const received = await control.summary();
  const lookups = Math.min(FIRST_ARRIVAL_LOOKUPS, Math.max(limits.parallelBatches * limits.batchSize, config.SEND_CONCURRENCY));
  const lowest: { id: string }[] = (await db.raw('SELECT id FROM messages WHERE mailing_id = ? ORDER BY id LIMIT ?', [mailingId, lookups])).rows;
  // created_at is now() of the transaction that recorded the message's audience chunk.
  const { rows } = await db.raw('SELECT min(created_at) AS first, max(created_at) AS last FROM messages WHERE mailing_id = ?', [mailingId]);
  const after = await db.raw(`SELECT count(*)::int AS sent FROM messages WHERE mailing_id = ? AND status = 'sent' AND sent_at > ?`, [mailingId, rows[0].last]);
  return {
    counts,
    countersRight,
    received,
    lastSent: last_sent_at ? Date.parse(last_sent_at) : NaN,
    lowestIds: lowest.map((r) => Number(r.id)),
    audienceFirst: (rows[0].first as Date).getTime(),
    audienceLast: (rows[0].last as Date).getTime(),
    sentAfterAudience: after.rows[0].sent as number,
  };
}

/**
 * The ids among which the first request is: the parallel batches each claim `concurrency` due ids from
 * the front, skipping those another holds, so the lowest `parallelBatches × concurrency` ids; and, as
 * batches claimed before, the first `concurrency` ids of every block of `batchSize`.
 */
function firstCandidates(lowestIds: number[], { batchSize, parallelBatches }: { batchSize: number; parallelBatches: number }, concurrency: number): number[] {
  return lowestIds.filter((_, i) => i < parallelBatches * concurrency || i % batchSize < concurrency).slice(0, FIRST_ARRIVAL_LOOKUPS);
}

/**
 * Polls the provider's request counter from just before start_at until it moves: the first request
 * came before the poll that saw it. A cross-check of the lookup in the provider's record.
 */
async function firstSeenByPolling(control: BenchContext['control'], startAt: number, watch: Watch): Promise<number> {
  await sleep(Math.max(0, startAt - 200 - Date.now()));
  const deadline = startAt + GIVE_UP_MS;
  while (Date.now() < deadline && !watch.died) {
    if ((await control.summary()).total > 0) return Date.now();
    await sleep(10);
  }
  return Infinity;
}
