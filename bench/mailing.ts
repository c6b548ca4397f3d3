import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, sendLimits } from '../config';
import { createLogger } from '../config/logger';
import { createMailingService } from '../domain/mailings';
import { Parts } from '../stack/process/parts';
import { repoRoot } from '../stack/repo-root';
import { listenForStopSignals, runMain, StopRequested } from '../stack/process/script';
import { connectDatabase } from '../storage/database';
import { apiScenario } from './api-scenario';
import { importScenario } from './import-scenario';
import { benchStartedAt, codeVersion, loadAverage, printTable, say, setting } from './common';
import { PROVIDER_LATENCY_MS, providerLimit, type BenchContext, type ScenarioResult } from './context';
import { mainScenario, WIDE_CONCURRENCY } from './main-scenario';
import { MANY_MAILINGS, manyClients, manyScenario } from './many-scenario';
import { providerControl } from './provider-control';
import { startBenchStack } from './stack';
import { fmt, verdict, type SummaryRow } from './summary';

/**
 * `npm run bench`: the figures of issue 8 on one throwaway stack (embedded PostgreSQL, in-memory
 * Temporal dev server, the fake provider answering in 20 ms as its own process, a worker process
 * from a prebuilt bundle, the API process), then one summary table, also written as JSON to
 * bench/results/latest.json (and a copy named by date, clients and scenarios).
 *
 * BENCH_SCENARIO: a comma-separated list of
 * - `main`: one mailing to BENCH_CLIENTS clients (default 100,000) through the service and the same
 *   sends by the plain loop of bench/baseline.ts, BENCH_REPEAT times each (default 3, or 1 above
 *   200,000 clients), alternating which goes first, each from emptied message tables;
 * - `wide`: `main` at 256 requests in flight (WIDE_CONCURRENCY), where the cores set the pace;
 * - `many`: 50 mailings x 2,000 clients starting at the same moment;
 * - `api`: statistics latency with 1,000,000 messages across 100 mailings, then mixed reads at
 *   200 requests/s (autocannon) while a 100,000-client mailing sends;
 * - `import`: a CSV of 100,000 clients (BENCH_IMPORT_ROWS) in one request, new then known, BENCH_REPEAT times;
 * or `all` (the default): main, wide, many, api, import.
 * Sending settings come from the usual env (SEND_CONCURRENCY, SEND_BATCH_SIZE, SEND_PARALLEL_BATCHES,
 * DATABASE_POOL_MAX, …). Exits 1 when a sanity check fails; missed targets are reported, not failed.
 */

const SCENARIOS = ['main', 'wide', 'many', 'api', 'import'] as const;
type Scenario = (typeof SCENARIOS)[number];

function scenarios(): Scenario[] {
  const raw = (process.env.BENCH_SCENARIO || 'all').split(',').map((s) => s.trim());
  if (raw.includes('all')) return [...SCENARIOS];
  for (const s of raw) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`BENCH_SCENARIO: unknown scenario ${s} (known: ${SCENARIOS.join(', ')}, all)`);
  return SCENARIOS.filter((s) => raw.includes(s));
}

async function main(): Promise<number> {
  const clients = setting('BENCH_CLIENTS', 100_000);
  const repeat = setting('BENCH_REPEAT', clients > 200_000 ? 1 : 3);
  const chosen = scenarios();
  const config = loadConfig();
  const limits = sendLimits(config);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');
  const signals = listenForStopSignals(logger);
  const parts = new Parts(logger);
  const load: [string, string][] = [['at start', loadAverage()]];
  const results: Partial<Record<Scenario, ScenarioResult>> = {};
  let failed: string | undefined;
  const startedAt = new Date(benchStartedAt).toISOString();
  try {
    say(`scenarios ${chosen.join(', ')}; starting the stack (load average ${loadAverage()})`);
    const stack = await startBenchStack(config, logger, parts);
    const control = providerControl(stack.providerUrl);
    await control.setLatency(PROVIDER_LATENCY_MS);
    const db = connectDatabase(stack.databaseUrl, config.DATABASE_POOL_MAX);
    parts.add({ name: 'bench database pool', stop: () => db.destroy() });
    const connection = await Connection.connect({ address: stack.temporalAddress });
    parts.add({ name: 'bench temporal client', stop: () => connection.close() });
    const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const ctx: BenchContext = {
      config,
      limits,
      logger,
      signals,
      stack,
      db,
      temporal,
      control,
      service: createMailingService({ temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, limits, stopWaitMs: config.MAILING_STOP_WAIT_MS, logger }),
      stackParts: [
        { name: 'postgres', pid: stack.pids.postgres },
        { name: 'temporal', pid: stack.pids.temporal },
        { name: 'fake provider', pid: stack.pids.provider },
      ],
    };
    for (const scenario of chosen) {
      signals.throwIfRequested();
      try {
        if (scenario === 'main') results.main = await mainScenario(ctx, clients, repeat);
        if (scenario === 'wide') results.wide = await mainScenario(ctx, clients, repeat, 'wide');
        if (scenario === 'many') results.many = await manyScenario(ctx);
        if (scenario === 'api') results.api = await apiScenario(ctx);
        if (scenario === 'import') results.import = await importScenario(ctx, repeat);
      } catch (error) {
        if (error instanceof StopRequested) throw error;
        // What was measured so far is still reported; the scenarios after it would run on a stack in an unknown state.
        logger.error({ err: error }, `scenario ${scenario} failed`);
        failed = `${scenario}: ${(error as Error).message}`;
        break;
      } finally {
        load.push([`after ${scenario}`, loadAverage()]);
      }
    }
  } catch (error) {
    if (error instanceof StopRequested) return 130;
    logger.fatal({ err: error }, 'benchmark failed');
    return 1;
  } finally {
    await parts.stopAll();
  }

  const settings: [string, string][] = [
    ['scenarios', chosen.join(', ')],
    ...(chosen.includes('main') ? [['main: clients / messages, repeats', `${fmt(clients)}, ${repeat} x (service + baseline)`] as [string, string]] : []),
    ...(chosen.includes('wide') ? [['wide: clients / messages, requests in flight', `${fmt(clients)}, ${WIDE_CONCURRENCY}, ${repeat} x (service + baseline)`] as [string, string]] : []),
    ...(chosen.includes('many') ? [['many: mailings x clients', `${MANY_MAILINGS} x ${fmt(manyClients())}`] as [string, string]] : []),
    ['provider latency', `${PROVIDER_LATENCY_MS} ms (limit ${fmt(providerLimit(config))} requests/s)`],
    ['SEND_CONCURRENCY', String(config.SEND_CONCURRENCY)],
    ['SEND_BATCH_SIZE x SEND_PARALLEL_BATCHES', `${limits.batchSize} x ${limits.parallelBatches}`],
    ['DATABASE_POOL_MAX', String(config.DATABASE_POOL_MAX)],
    ['code', codeVersion()],
    ['machine', `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${fmt(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`],
  ];
  const summary: SummaryRow[] = chosen.flatMap((s) => results[s]?.summary ?? []);
  const sanity: [string, boolean][] = [...chosen.flatMap((s) => results[s]?.sanity ?? []), ...(failed ? [[`scenario ${failed}`, false] as [string, boolean]] : [])];
  printTable('Settings', settings);
  printTable(
    'Summary (median of the repeats, with min–max; targets are reported, not asserted)',
    summary.map((row) => [row.scenario, row.figure, row.shown, row.target ?? '', verdict(row)]),
    ['scenario', 'figure', 'value', 'target', ''],
  );
  printTable('Sanity', sanity.map(([what, ok]) => [what, ok ? 'ok' : 'FAILED']));
  load.push(['at the end', loadAverage()]);
  printTable('Load average (1, 5, 15 min)', load);
  const totalS = (Date.now() - benchStartedAt) / 1000;
  console.log(`\ntotal wall time ${totalS.toFixed(0)} s`);

  const json = {
    benchmark: 'npm run bench',
    startedAt,
    finishedAt: new Date().toISOString(),
    totalWallSeconds: totalS,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(BENCH_|SEND_|DATABASE_POOL_MAX$)/.test(k))),
    settings: Object.fromEntries(settings),
    loadAverage: Object.fromEntries(load),
    summary,
    sanity: sanity.map(([check, ok]) => ({ check, ok })),
    scenarios: Object.fromEntries(chosen.map((s) => [s, results[s]?.details])),
  };
  const dir = path.join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(json, null, 2)}\n`;
  writeFileSync(path.join(dir, 'latest.json'), text);
  const copy = path.join(dir, `${startedAt.replace(/[:.]/g, '-')}-${clients}-${chosen.join('+')}.json`);
  writeFileSync(copy, text);
  console.log(`figures written to ${path.relative(repoRoot, path.join(dir, 'latest.json'))} and ${path.relative(repoRoot, copy)}`);
  return sanity.every(([, ok]) => ok) ? 0 : 1;
}

runMain(main);
