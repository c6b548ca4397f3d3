import { performance } from 'node:perf_hooks';
import { freshTables, memorySampler, say, setting } from './common';
import type { BenchContext, ScenarioResult } from './context';
import { fmt, repeated, single } from './summary';

/** What the README promises of the import: 100,000 rows in one request in under 10 s. */
const IMPORT_TARGET = { text: '< 10 s', ok: (ms: number) => ms < 10_000 };

/**
 * The import scenario, through the real API process: one CSV of BENCH_IMPORT_ROWS (100,000) clients
 * posted to POST /api/clients/import/ into an empty directory (every row new), then the same file again
 * (every row known, so updated), `repeat` times: the time of each request and the API's peak memory.
 */
export async function importScenario(ctx: BenchContext, repeat: number): Promise<ScenarioResult> {
  const rows = setting('BENCH_IMPORT_ROWS', 100_000);
  const zones = ['Europe/Moscow', 'Asia/Tokyo', 'UTC', 'America/New_York'];
  const csv = `phone_number,timezone,tag\n${Array.from({ length: rows }, (_, i) => `7${9_000_000_000 + i},${zones[i % zones.length]},bench-import`).join('\n')}\n`;
  say(`import scenario: ${fmt(rows)} rows (${fmt(csv.length / 1e6, 1)} MB of CSV) in one request, new then known, ${repeat} times`);

  const api = await ctx.stack.startApi();
  const memory = memorySampler(api.process.pid);
  const post = async () => {
    const started = performance.now();
    const response = await fetch(`${api.url}/api/clients/import/`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
    const body = (await response.json()) as { created?: number; updated?: number };
    return { ms: performance.now() - started, ok: response.status === 200, ...body };
  };
  const fresh: number[] = [];
  const known: number[] = [];
  let everyRowCounted = true;
  try {
    for (let i = 0; i < repeat; i++) {
      ctx.signals.throwIfRequested();
      await freshTables(ctx.db, ['messages', 'mailing_count_shards', 'mailings', 'clients']);
      const first = await post();
      const again = await post();
      fresh.push(first.ms);
      known.push(again.ms);
      everyRowCounted &&= first.ok && first.created === rows && again.ok && again.updated === rows;
      say(`import ${i + 1}: ${fmt(first.ms)} ms new (created ${first.created}), ${fmt(again.ms)} ms known (updated ${again.updated})`);
    }
  } finally {
    await api.process.stop();
  }
  const peak = memory.stop();
  const S = 'import';
  return {
    summary: [
      repeated(S, `POST /api/clients/import/, ${fmt(rows)} new rows`, 'ms', fresh, 0, IMPORT_TARGET),
      repeated(S, `  the same ${fmt(rows)} rows again, all known`, 'ms', known, 0, IMPORT_TARGET),
      single(S, '  API peak memory (VmHWM)', 'MB', peak.hwmMb),
    ],
    sanity: [['import: every row created, then every row updated', everyRowCounted]],
    details: { rows, freshMs: fresh, knownMs: known, apiPeakMb: peak.hwmMb },
  };
}
