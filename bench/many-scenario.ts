import { setTimeout as sleep } from 'node:timers/promises';
import { cpuRows, cpuSnapshot, cpuUse, freshTables, loadAverage, median, pastMailingStatistics, printStatements, printTable, say, seedClients, setting, startMeasuredWorker, statementSampler, waitForMailings } from './common';
import { TEXT, type BenchContext, type ScenarioResult } from './context';
import { fmt, single, spread, type SummaryRow } from './summary';

/**
 * "Many at once": MANY_MAILINGS mailings of MANY_CLIENTS clients each (each its own tag, the tags
 * interleaved over the directory as a real one's are), all with the same start_at, on one worker.
 * Each mailing's first and last sent_at tell whether one was starved.
 */

export const MANY_MAILINGS = 50;
/** Enough for 50 workflow starts before start_at on a busy machine; checked. */
const START_DELAY_MS = 6_000;
const GIVE_UP_MS = 20 * 60_000;

/** Clients per mailing: BENCH_MANY_CLIENTS, 2,000 by default. */
export const manyClients = () => setting('BENCH_MANY_CLIENTS', 2_000);

export async function manyScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const MANY_CLIENTS = manyClients();
  const { db, control, signals } = ctx;
  const total = MANY_MAILINGS * MANY_CLIENTS;
  say(`many at once: ${MANY_MAILINGS} mailings x ${fmt(MANY_CLIENTS)} clients, one start_at, one worker`);
  await freshTables(db, ['messages', 'mailing_count_shards', 'mailings', 'clients']);
  await control.clear();
  const seedMs = await seedClients(db, total, `'many-' || (g % ${MANY_MAILINGS})`);
  await pastMailingStatistics(db);
  say(`seeded ${fmt(total)} clients in ${seedMs} ms; statistics of a past mailing in place`);

  const { worker, watch, memory, parts } = await startMeasuredWorker(ctx);

  const createdAt = Date.now();
  const startAt = createdAt + START_DELAY_MS;
  const ids: number[] = [];
  // Ten at a time, as an API under some load would create them.
  for (let first = 0; first < MANY_MAILINGS; first += 10) {
    const batch = Array.from({ length: Math.min(10, MANY_MAILINGS - first) }, (_, i) => first + i);
    const created = await Promise.all(
      batch.map((i) => ctx.service.create({ start_at: new Date(startAt).toISOString(), end_at: new Date(createdAt + 3_600_000).toISOString(), text: TEXT, filter: { tag: [`many-${i}`] } })),
    );
    ids.push(...created.map((m) => m.id));
  }
  const allCreatedMs = Date.now() - createdAt;
  say(`${MANY_MAILINGS} mailings created in ${allCreatedMs} ms, all starting at ${new Date(startAt).toISOString()} (load average ${loadAverage()})`);
  await sleep(Math.max(0, startAt - Date.now()));
  const before = cpuSnapshot(parts);
  const statements = statementSampler(db);
  const done = await waitForMailings(db, ids, {
    signals,
    watch,
    giveUpMs: GIVE_UP_MS,
    progress: async () => say(`  provider received ${fmt((await control.summary()).total)}`),
  });
  const after = cpuSnapshot(parts);
  const mem = memory.stop();
  const profile = await statements.stop();
  await worker.stop();

  const cpu = cpuUse(parts, before, after);
  printTable(`CPU of the many-at-once run, start_at to all finished (${cpu.wallSeconds.toFixed(1)} s), % of one core`, cpuRows(cpu));
  printStatements('PostgreSQL during the many-at-once run', profile);
  const { rows } = await db.raw(
    `SELECT mailing_id, count(*) FILTER (WHERE status = 'sent')::int AS sent, min(sent_at) AS first_sent, max(sent_at) AS last_sent,
            min(created_at) AS audience_first, max(created_at) AS audience_last
     FROM messages WHERE mailing_id = ANY(?::bigint[]) GROUP BY mailing_id ORDER BY mailing_id`,
    [ids],
  );
  type Row = { mailing_id: string; sent: number; first_sent: Date; last_sent: Date; audience_first: Date; audience_last: Date };
  const perMailing = (rows as Row[]).map((r) => ({
    mailingId: Number(r.mailing_id),
    sent: r.sent,
    status: done.get(Number(r.mailing_id))?.status,
    firstSentS: (r.first_sent.getTime() - startAt) / 1000,
    lastSentS: (r.last_sent.getTime() - startAt) / 1000,
    finishedSeenS: (done.get(Number(r.mailing_id))!.seenAt - startAt) / 1000,
    audienceFirstS: (r.audience_first.getTime() - startAt) / 1000,
  }));
  const received = await control.summary();
  const allSent = perMailing.reduce((sum, m) => sum + m.sent, 0);
  const firstSent = Math.min(...perMailing.map((m) => m.firstSentS));
  const lastSent = Math.max(...perMailing.map((m) => m.lastSentS));
  const finishes = perMailing.map((m) => m.lastSentS);
  say(`many at once: last messages sent ${fmt(Math.min(...finishes), 1)}–${fmt(Math.max(...finishes), 1)} s after start_at; worker peak ${fmt(mem.hwmMb)} MB`);

  const S = 'many';
  const summary: SummaryRow[] = [
    spread(S, `finish: start_at → a mailing's last sent_at (${MANY_MAILINGS} x ${fmt(MANY_CLIENTS)})`, 's', finishes, 1),
    spread(S, "  start_at → a mailing's status seen final (250 ms polls)", 's', perMailing.map((m) => m.finishedSeenS), 1),
    spread(S, "  start_at → a mailing's first sent_at", 's', perMailing.map((m) => m.firstSentS), 1),
    spread(S, "  start_at → a mailing's first audience chunk", 's', perMailing.map((m) => m.audienceFirstS), 1),
    single(S, '  latest finish / median finish', 'x', Math.max(...finishes) / median(finishes), 2),
    single(S, '  all mailings: messages/s (first sent_at → last sent_at)', 'msg/s', allSent / (lastSent - firstSent)),
    single(S, 'worker peak memory (VmHWM)', 'MB', mem.hwmMb, 0, { text: '< 300 MB', ok: (v) => v < 300 }),
    single(S, 'worker + PostgreSQL CPU per 1,000 messages', 's', (cpu.seconds.worker + cpu.seconds.postgres) / (allSent / 1000), 3),
    single(S, 'CPU of other processes during the run', '% of a core', (100 * cpu.seconds['other processes']) / cpu.wallSeconds),
  ];
  const sanity: [string, boolean][] = [
    [`many: all ${MANY_MAILINGS} mailings finished`, perMailing.length === MANY_MAILINGS && perMailing.every((m) => m.status === 'finished')],
    [`many: every mailing sent ${MANY_CLIENTS}`, perMailing.every((m) => m.sent === MANY_CLIENTS)],
    [`many: provider received ${total} distinct msgIds, no duplicates`, received.total === total && received.distinctMsgIds === total],
    [`many: all mailings created before start_at`, allCreatedMs < START_DELAY_MS],
  ];
  return { summary, sanity, details: { mailings: MANY_MAILINGS, clientsEach: MANY_CLIENTS, allCreatedMs, memory: mem, cpu, statements: profile, perMailing, received } };
}
