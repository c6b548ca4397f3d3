import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../stack/repo-root';
import { stealSeconds } from './proc';
import {
  cpuRows,
  cpuSnapshot,
  cpuUse,
  freshTables,
  loadAverage,
  memorySampler,
  percentile,
  printStatements,
  printTable,
  say,
  seedClients,
  setting,
  statementSampler,
  waitForMailings,
  waitForWorkerPolling,
  watchProcesses,
} from './common';
import { providerLimit, TEXT, type BenchContext, type ScenarioResult } from './context';
import type { LoadPlan, LoadResult } from './load-client';
import { fmt, single, type SummaryRow } from './summary';

/**
 * The API scenario, through the real API process (`api/main.ts` on a loopback port):
 *
 * 1. Statistics: STATS_MAILINGS finished mailings with BENCH_STATS_MESSAGES_EACH (10,000) messages each
 *    (1,000,000 in all, statuses mixed) written straight into PostgreSQL by one INSERT .. SELECT over
 *    generate_series (the triggers on messages keep mailing_counts right: checked against count(*)),
 *    then GET /api/mailings/fullinfo/, /api/mailings/{id}/info/ and /api/messages/?mailing_id= one at
 *    a time, in turn, BENCH_STATS_REQUESTS times each after a warm-up: p50 / p95 / p99 / max.
 * 2. Under load: on top of that data, a mailing to BENCH_LOAD_CLIENTS (100,000) clients created with POST
 *    /api/mailings/; once its audience is recorded and it only sends, each kind of read is warmed up WARM_UP times (DATABASE_POOL_MAX at once), then autocannon (bench/load-client.ts, its own process) sends
 *    BENCH_LOAD_RATE requests/s of mixed reads over BENCH_LOAD_CONNECTIONS connections for
 *    BENCH_LOAD_RAMP_SECONDS (5) unmeasured, then BENCH_LOAD_SECONDS measured; the mailing must still be
 *    running when the load ends. The p99 of the whole load, ramp included, is printed beside the measured one.
 */

const STATS_MAILINGS = 100;
const WARM_UP = 20;
const START_DELAY_MS = 3_000;
/**
 * The load starts once the mailing's audience is recorded and it only sends. Recording 100,000 messages
 * keeps a PostgreSQL backend busy for 3-5 s; on 2 shared cores, reads that met it were answered in up
 * to hundreds of ms, and whether the load met 0 or 3 s of it depended on the machine's speed that run.
 */
const AUDIENCE_POLL_MS = 100;
const GIVE_UP_MS = 20 * 60_000;

export async function apiScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const STATS_MESSAGES_EACH = setting('BENCH_STATS_MESSAGES_EACH', 10_000);
  const LOAD_CLIENTS = setting('BENCH_LOAD_CLIENTS', 100_000);
  const statsRequests = setting('BENCH_STATS_REQUESTS', 300);
  const loadRate = setting('BENCH_LOAD_RATE', 200);
  const loadConnections = setting('BENCH_LOAD_CONNECTIONS', 40);
  const loadSeconds = setting('BENCH_LOAD_SECONDS', 20);
  const rampSeconds = setting('BENCH_LOAD_RAMP_SECONDS', 5);
  const { db, stack, temporal, config, signals, control } = ctx;

  say(`API scenario: ${fmt(STATS_MAILINGS * STATS_MESSAGES_EACH)} messages across ${STATS_MAILINGS} mailings, then reads under load`);
  await freshTables(db, ['messages', 'mailing_count_shards', 'mailings', 'clients']);
  await control.clear();
  await seedClients(db, LOAD_CLIENTS);
  const seeded = await seedStatistics(ctx, STATS_MESSAGES_EACH);
  say(`seeded ${fmt(seeded.messages)} messages in ${STATS_MAILINGS} mailings in ${fmt(seeded.ms)} ms; counters ${seeded.countersRight ? 'equal' : 'DIFFER FROM'} count(*)`);

  const api = await stack.startApi();
  const apiMemory = memorySampler(api.process.pid);
  say(`API pid ${api.process.pid} listening at ${api.url}`);

  // 1. Statistics, one request at a time.
  const statsIds = seeded.mailingIds;
  const pick = (i: number) => statsIds[(i * 37) % statsIds.length];
  const endpoints: { label: string; path: (i: number) => string }[] = [
    { label: 'GET /api/mailings/fullinfo/', path: () => '/api/mailings/fullinfo/' },
    { label: 'GET /api/mailings/{id}/info/', path: (i) => `/api/mailings/${pick(i)}/info/` },
    { label: 'GET /api/messages/?mailing_id=', path: (i) => `/api/messages/?mailing_id=${pick(i)}` },
  ];
  const latencies = new Map(endpoints.map((e) => [e.label, [] as number[]]));
  let failures = 0;
  const statsParts = [{ name: 'api', pid: api.process.pid }, ...ctx.stackParts];
  const statsBefore = cpuSnapshot(statsParts);
  for (let i = 0; i < WARM_UP + statsRequests; i++) {
    signals.throwIfRequested();
    for (const endpoint of endpoints) {
      const started = performance.now();
      const response = await fetch(`${api.url}${endpoint.path(i)}`);
      await response.arrayBuffer();
      const ms = performance.now() - started;
      if (response.status !== 200) failures++;
      if (i >= WARM_UP) latencies.get(endpoint.label)!.push(ms);
    }
  }
  const statsCpu = cpuUse(statsParts, statsBefore, cpuSnapshot(statsParts));
  const stats = endpoints.map(({ label }) => {
    const samples = latencies.get(label)!;
    return { label, n: samples.length, p50: percentile(samples, 50), p95: percentile(samples, 95), p99: percentile(samples, 99), max: Math.max(...samples) };
  });
  printTable(
    `Statistics, ${fmt(seeded.messages)} messages in ${STATS_MAILINGS} mailings, one request at a time (${statsRequests} each after ${WARM_UP} warm-up), ms`,
    stats.map((s) => [s.label, fmt(s.p50, 1), fmt(s.p95, 1), fmt(s.p99, 1), fmt(s.max, 1)]),
    ['request', 'p50', 'p95', 'p99', 'max'],
  );
  printTable(`CPU during the statistics requests (${statsCpu.wallSeconds.toFixed(1)} s), % of one core`, cpuRows(statsCpu));

  // 2. Reads while a mailing sends.
  const worker = await stack.startWorker();
  await waitForWorkerPolling(temporal, config.TEMPORAL_TASK_QUEUE, worker, signals);
  const watch = watchProcesses(stack.died, [worker, api.process]);
  const workerMemory = memorySampler(worker.pid);
  const createdAt = Date.now();
  const startAt = createdAt + START_DELAY_MS;
  const created = await fetch(`${api.url}/api/mailings/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ start_at: new Date(startAt).toISOString(), end_at: new Date(createdAt + 3_600_000).toISOString(), text: TEXT, filter: {} }),
  });
  if (created.status !== 201) throw new Error(`POST /api/mailings/ answered ${created.status}: ${await created.text()}`);
  const mailingId = ((await created.json()) as { id: number }).id;
  say(`mailing ${mailingId} to ${fmt(LOAD_CLIENTS)} clients created through the API, starting at ${new Date(startAt).toISOString()}`);
  while (!(await db.raw('SELECT audience_done FROM mailings WHERE id = ?', [mailingId])).rows[0].audience_done) {
    signals.throwIfRequested();
    await sleep(AUDIENCE_POLL_MS);
  }
  const audienceRecordedMs = Date.now() - startAt;
  say(`mailing ${mailingId}: audience recorded ${fmt(audienceRecordedMs)} ms after start_at`);

  const messageId = Number((await db.raw('SELECT min(id) AS id FROM messages WHERE mailing_id = ?', [statsIds[0]])).rows[0].id) + 4_321;
  const plan: LoadPlan = {
    url: api.url,
    rate: loadRate,
    connections: loadConnections,
    rampSeconds,
    seconds: loadSeconds,
    requests: [
      { label: 'fullinfo', path: '/api/mailings/fullinfo/' },
      { label: 'info (sending mailing)', path: `/api/mailings/${mailingId}/info/` },
      { label: 'messages?mailing_id= (sending)', path: `/api/messages/?mailing_id=${mailingId}` },
      { label: 'info (finished mailing)', path: `/api/mailings/${statsIds[7]}/info/` },
      { label: 'mailing', path: `/api/mailings/${mailingId}/` },
      { label: 'mailings list', path: '/api/mailings/' },
      { label: 'clients list', path: '/api/clients/?limit=100' },
      { label: 'message', path: `/api/messages/${messageId}/` },
    ],
  };
  // As the statistics were: each kind of read WARM_UP times first, so that the load meets compiled code, not the first calls;
  // as many at once as the API has database connections, so that it meets open connections whose backends have run each read.
  await Promise.all(
    Array.from({ length: config.DATABASE_POOL_MAX }, async (_, caller) => {
      for (let i = caller; i < WARM_UP; i += config.DATABASE_POOL_MAX) {
        for (const { path } of plan.requests) await (await fetch(`${api.url}${path}`)).arrayBuffer();
      }
    }),
  );
  say(`load: ${loadRate} requests/s of ${plan.requests.length} kinds of reads over ${loadConnections} connections for ${rampSeconds} s unmeasured, then ${loadSeconds} s (load average ${loadAverage()})`);
  const loadChild = spawn(process.execPath, ['--import', 'tsx', 'bench/load-client.ts'], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_LOAD: JSON.stringify(plan) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(loadChild, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: loadChild.stdout! })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const line = await Promise.race([lines.next(), exited.then(([code, signal]) => ({ done: true, value: `exited with ${signal ?? code}` }))]);
    if (line.done) throw new Error(`the load client stopped early: ${line.value ?? 'no output'}`);
    return JSON.parse(line.value as string) as { event: 'start' } | ({ event: 'result' } & LoadResult);
  };
  // The window is the load's own: from autocannon's start to its result, the client still alive.
  const loadParts = [{ name: 'api', pid: api.process.pid }, { name: 'worker', pid: worker.pid }, ...ctx.stackParts, { name: 'autocannon process', pid: loadChild.pid! }];
  if ((await nextLine()).event !== 'start') throw new Error('the load client did not report its start');
  const loadBefore = cpuSnapshot(loadParts);
  // On a virtual machine the host may take cores away for seconds: seen beside the slowest responses.
  const stealBySecond: number[] = [];
  let stealBefore = stealSeconds();
  const stealSampler = setInterval(() => {
    const steal = stealSeconds();
    stealBySecond.push(steal - stealBefore);
    stealBefore = steal;
  }, 1000);
  const statements = statementSampler(db);
  const sentBefore = await sentCount(ctx, mailingId);
  const load = (await nextLine()) as LoadResult;
  clearInterval(stealSampler);
  const loadAfter = cpuSnapshot(loadParts);
  const sentAfter = await sentCount(ctx, mailingId);
  const profile = await statements.stop();
  loadChild.stdin!.end();
  await exited;
  const statusAtLoadEnd = (await db.raw('SELECT status FROM mailings WHERE id = ?', [mailingId])).rows[0].status as string;
  const loadCpu = cpuUse(loadParts, loadBefore, loadAfter);
  const sendingDuringLoad = (sentAfter.count - sentBefore.count) / ((sentAfter.at - sentBefore.at) / 1000);
  say(`load done; mailing ${mailingId} was ${statusAtLoadEnd} at its end; waiting for it to finish`);

  const done = await waitForMailings(db, [mailingId], { signals, watch, giveUpMs: GIVE_UP_MS });
  const mailingMemory = workerMemory.stop();
  await worker.stop();
  const apiMem = apiMemory.stop();
  const { rows } = await db.raw(`SELECT min(sent_at) AS first, max(sent_at) AS last, count(*) FILTER (WHERE status = 'sent')::int AS sent FROM messages WHERE mailing_id = ?`, [mailingId]);
  const mailingRate = rows[0].sent / ((rows[0].last.getTime() - rows[0].first.getTime()) / 1000);

  printTable(
    `API under load: ${fmt(load.byLabel.all?.n ?? 0)} requests in the measured ${load.measuredSeconds.toFixed(1)} s while mailing ${mailingId} sent; raw latencies per request kind, ms`,
    Object.entries(load.byLabel)
      .sort(([a], [b]) => Number(a === 'all') - Number(b === 'all'))
      .map(([label, s]) => [label, String(s.n), fmt(s.p50, 0), fmt(s.p95, 0), fmt(s.p99, 0), fmt(s.max, 0)]),
    ['request', 'n', 'p50', 'p95', 'p99', 'max'],
  );
  say(`slowest response of each measured second, ms: ${load.slowestBySecond.map((ms) => fmt(ms)).join(' ')}`);
  say(`CPU stolen by the host in each second, % of a core: ${stealBySecond.map((s) => fmt(100 * s)).join(' ')}`);
  printTable(`CPU during the measured load (${loadCpu.wallSeconds.toFixed(1)} s), % of one core`, cpuRows(loadCpu));
  printStatements('PostgreSQL during the load', profile);

  const achieved = (load.byLabel.all?.n ?? 0) / load.measuredSeconds;
  const statOf = (label: string) => stats.find((s) => s.label === label)!;
  const S = 'api';
  const p95Target = { text: '< 50 ms', ok: (v: number) => v < 50 };
  const summary: SummaryRow[] = [
    single(S, `statistics: GET /api/mailings/fullinfo/ p95 (${fmt(seeded.messages)} messages, ${STATS_MAILINGS} mailings)`, 'ms', statOf('GET /api/mailings/fullinfo/').p95, 1, p95Target),
    single(S, 'statistics: GET /api/mailings/{id}/info/ p95', 'ms', statOf('GET /api/mailings/{id}/info/').p95, 1, p95Target),
    single(S, 'statistics: GET /api/messages/?mailing_id= p95', 'ms', statOf('GET /api/messages/?mailing_id=').p95, 1),
    single(S, `under load: p99 of mixed reads at ${loadRate}/s (autocannon, ${loadConnections} connections, ${loadSeconds} s after a ${rampSeconds} s ramp)`, 'ms', load.byLabel.all?.p99 ?? NaN, 0, { text: '< 50 ms', ok: (v) => v < 50 }),
    single(S, '  p50 / p95 / max of the measured seconds', 'ms', load.byLabel.all?.p50 ?? NaN, 0, undefined, `/ ${fmt(load.byLabel.all?.p95 ?? NaN)} / ${fmt(load.byLabel.all?.max ?? NaN)} ms`),
    single(S, '  p99 of the whole load, ramp included', 'ms', load.withRamp.p99, 0, undefined, `(autocannon's own histogram: p99 ${fmt(load.autocannon.latency.p99)} ms)`),
    single(S, '  measured seconds with a response over 50 ms', 's', load.slowestBySecond.filter((ms) => ms > 50).length, 0, undefined, `of ${load.slowestBySecond.length}`),
    single(S, '  CPU stolen by the host during the load (steal)', '% of a core', (100 * stealBySecond.reduce((a, b) => a + b, 0)) / Math.max(1, stealBySecond.length), 0, undefined, `(at most ${fmt(100 * Math.max(0, ...stealBySecond))}% in one second)`),
    single(S, '  worst p99 of one kind of read', 'ms', Math.max(...Object.entries(load.byLabel).filter(([k]) => k !== 'all').map(([, v]) => v.p99)), 0, undefined, `(${worstKind(load)})`),
    single(S, `  requests/s achieved (of ${loadRate} planned)`, '/s', achieved, 0, undefined, `(non-2xx ${load.autocannon.non2xx}, errors ${load.autocannon.errors}, timeouts ${load.autocannon.timeouts})`),
    single(S, '  start_at → audience recorded (the load starts after it)', 'ms', audienceRecordedMs),
    single(S, '  mailing sending during the load', 'msg/s', sendingDuringLoad, 0, undefined, `(${fmt((100 * sendingDuringLoad) / providerLimit(config))}% of the provider's limit; whole mailing ${fmt(mailingRate)} msg/s)`),
    single(S, '  API peak memory (VmHWM)', 'MB', apiMem.hwmMb),
    single(S, '  CPU of other processes during the load', '% of a core', (100 * loadCpu.seconds['other processes']) / loadCpu.wallSeconds),
  ];
  const sanity: [string, boolean][] = [
    ['api: mailing_counts equal count(*) after the generate_series seed', seeded.countersRight],
    ['api: every statistics request answered 200', failures === 0],
    ['api: no load request failed (non-2xx, error, timeout)', load.autocannon.non2xx === 0 && load.autocannon.errors === 0 && load.autocannon.timeouts === 0],
    ['api: the mailing was still sending when the load ended', statusAtLoadEnd === 'running'],
    [`api: the mailing finished with all ${LOAD_CLIENTS} sent`, done.get(mailingId)?.status === 'finished' && rows[0].sent === LOAD_CLIENTS],
  ];
  return {
    summary,
    sanity,
    details: { seeded, stats, statsCpu, audienceRecordedMs, plan, load, loadCpu, statements: profile, sendingDuringLoad, mailingRate, statusAtLoadEnd, apiMemory: apiMem, workerMemory: mailingMemory },
  };
}

function worstKind(load: LoadResult): string {
  const kinds = Object.entries(load.byLabel).filter(([k]) => k !== 'all');
  return kinds.reduce((worst, kind) => (kind[1].p99 > worst[1].p99 ? kind : worst), kinds[0])?.[0] ?? 'none';
}

async function sentCount(ctx: BenchContext, mailingId: number) {
  const { rows } = await ctx.db.raw(`SELECT count FROM mailing_counts WHERE mailing_id = ? AND status = 'sent'`, [mailingId]);
  return { count: rows.length ? Number(rows[0].count) : 0, at: Date.now() };
}

/**
 * Finished mailings with their messages written by SQL: each mailing messages the first
 * STATS_MESSAGES_EACH clients (BENCH_STATS_MESSAGES_EACH); 90% sent, 5% failed, 5% expired.
 */
async function seedStatistics(ctx: BenchContext, STATS_MESSAGES_EACH: number) {
  const { db } = ctx;
  const started = Date.now();
  const { rows } = await db.raw(
    `INSERT INTO mailings (start_at, started_at, end_at, text, filter, status, audience_cursor, audience_done)
     SELECT now() - interval '2 days', now() - interval '2 days', now() - interval '1 day', 'Statistics ' || g, '{}', 'finished', 0, true FROM generate_series(1, ?) g
     RETURNING id`,
    [STATS_MAILINGS],
  );
  const mailingIds = (rows as { id: string }[]).map((r) => Number(r.id)).sort((a, b) => a - b);
  const inserted = await db.raw(
    `INSERT INTO messages (mailing_id, client_id, phone, status, attempts, last_error, due_at, created_at, sent_at)
     SELECT m.id, c.id, c.phone_number, s.status, 1,
            CASE s.status WHEN 'failed' THEN 'HTTP 400: invalid phone' WHEN 'expired' THEN 'the mailing ended before the message could be sent' END,
            m.start_at, m.start_at, CASE WHEN s.status = 'sent' THEN m.start_at + c.id * interval '5 ms' END
     FROM mailings m
     CROSS JOIN (SELECT id, phone_number FROM clients ORDER BY id LIMIT ?) c
     CROSS JOIN LATERAL (SELECT CASE WHEN (c.id + m.id) % 20 = 0 THEN 'failed' WHEN (c.id + m.id) % 20 = 1 THEN 'expired' ELSE 'sent' END AS status) s
     WHERE m.id = ANY(?::bigint[])
     ORDER BY m.id, c.id`,
    [STATS_MESSAGES_EACH, mailingIds],
  );
  const ms = Date.now() - started;
  const check = await db.raw(
    `SELECT count(*) AS wrong FROM (SELECT mailing_id, status, count(*) AS n FROM messages GROUP BY 1, 2) r
     FULL JOIN mailing_counts k USING (mailing_id, status) WHERE coalesce(r.n, 0) <> coalesce(k.count, 0)`,
  );
  await db.raw('VACUUM ANALYZE');
  return { messages: inserted.rowCount as number, ms, mailingIds, countersRight: Number(check.rows[0].wrong) === 0 };
}
