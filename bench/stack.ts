import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../config';
import type { Logger } from '../config/logger';
import { killWithParent, waitUntilReady, type ManagedProcess } from '../stack/process/managed-process';
import { startNodePart, type Parts } from '../stack/process/parts';
import { freePort, tcpProbe } from '../stack/process/ports';
import { repoRoot } from '../stack/repo-root';
import { startEmbeddedPostgres } from '../stack/postgres/server';
import { temporalCliPath } from '../stack/temporal/cli';
import { startTemporalDevServer } from '../stack/temporal/dev-server';
import { migrateLatest } from '../storage/migrate';
import { writeWorkflowBundle } from '../worker/bundle';
import { API_NODE_FLAGS } from '../api/node-flags';
import { WORKER_NODE_FLAGS } from '../worker/node-flags';
import { builtPath, buildMeasuredProcesses } from './build';
import { childByExecutable } from './proc';

const TOKEN = 'bench-token';
const STARTUP_TIMEOUT_MS = 60_000;

export interface BenchStack {
  databaseUrl: string;
  temporalAddress: string;
  providerUrl: string;
  token: string;
  pids: { postgres: number; temporal: number; provider: number };
  /** Settles with a description when PostgreSQL, Temporal or the fake provider exits before the end. */
  died: Promise<string>;
  /**
   * A worker process (`npm run worker:prod` minus npm: compiled, from a prebuilt bundle); one per measured run, so
   * that its peak memory is that run's. Started once the data is seeded; may be stopped before the rest.
   */
  startWorker(settings?: NodeJS.ProcessEnv): Promise<ManagedProcess>;
  /** The API process (`npm run api:prod` minus npm: compiled) on a free loopback port, once it answers /readyz. */
  startApi(): Promise<{ process: ManagedProcess; url: string }>;
  /** The plain loop (bench/baseline-main.ts, compiled) as its own process, started up and waiting to be told to go. */
  startBaseline(settings?: NodeJS.ProcessEnv): Promise<BaselineProcess>;
}

export interface BaselineProcess {
  pid: number;
  /** Starts the loop; settles with the id of the mailing row it sent, once it is done. */
  run(): Promise<number>;
  /** Lets the process exit (after its CPU time has been read). */
  end(): Promise<void>;
}

/** Reads the JSON lines of bench/baseline-main.ts; it waits for a line before it starts and for the end of its stdin before it exits. */
export async function startBaselineProcess(env: NodeJS.ProcessEnv, parts: Parts): Promise<BaselineProcess> {
  // Its own process group, killed by the guard if the benchmark dies before it; a stopped benchmark stops it first.
  const child = spawn(process.execPath, [builtPath('bench/baseline-main.ts')], { cwd: repoRoot, env, detached: true, stdio: ['pipe', 'pipe', 'inherit'] });
  const guard = killWithParent(child.pid!, 'SIGTERM', 5_000);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  void exited.then(() => guard.release());
  parts.add({
    name: 'baseline loop',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (event: string) => {
    const line = await Promise.race([lines.next(), exited.then(([code, signal]) => ({ done: true, value: `exited with ${signal ?? code}` }))]);
    const parsed = line.done ? undefined : JSON.parse(line.value as string);
    if (parsed?.event !== event) throw new Error(`the baseline process did not report ${event}: ${line.value ?? 'no output'}`);
    return parsed;
  };
  await next('ready');
  return {
    pid: child.pid!,
    async run() {
      child.stdin!.write('go\n');
      return (await next('done')).mailingId as number;
    },
    async end() {
      child.stdin!.end();
      await exited;
    },
  };
}


async function httpOk(url: string): Promise<void> {
  const response = await fetch(url);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
}

/**
 * The measured processes run as production runs them (`npm run worker:prod`), minus npm (whose pid is
 * not node's). With BENCH_CPU_PROFILE set to a directory, each also writes a V8 CPU profile there when
 * it stops (for a profiler; such a run's figures carry the profiler's cost).
 */
function spawnNode(name: string, entry: string, env: NodeJS.ProcessEnv, logger: Logger, parts: Parts, flags: string[] = []) {
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROFILE)}`] : [];
  return startNodePart(parts, { name, entry, flags: [...flags, ...profile], env, logger, stopTimeoutMs: 30_000 });
}

/**
 * Throwaway Postgres (temp dir, removed at the end) and in-memory Temporal, the fake provider as
 * its own process, all on free ports; every started part goes into `parts` at once.
 */
export async function startBenchStack(config: Config, logger: Logger, parts: Parts): Promise<BenchStack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailings-bench-'));
  // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
  await chmod(dir, 0o755);
  parts.add({ name: 'temp dir', stop: () => rm(dir, { recursive: true, force: true }) });
  // A crash skips the ordered stop; the cluster must not be left in /tmp anyway.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  // allSettled, not all: when one fails, the others must be up (and in `parts`) before we stop.
  const [pgResult, temporalResult, buildResult] = await Promise.allSettled([
    startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), port: await freePort(), logger }).then((pg) => {
      parts.add({ name: 'postgres', ...pg });
      return pg;
    }),
    temporalCliPath(config).then(async (cliPath) => {
      const server = await startTemporalDevServer({ cliPath, port: await freePort(), namespace: config.TEMPORAL_NAMESPACE, logger });
      parts.add({ name: 'temporal', ...server });
      return server;
    }),
    buildMeasuredProcesses(),
  ]);
  if (pgResult.status === 'rejected') throw pgResult.reason;
  if (temporalResult.status === 'rejected') throw temporalResult.reason;
  if (buildResult.status === 'rejected') throw buildResult.reason;
  const [postgres, temporal] = [pgResult.value, temporalResult.value];
  await migrateLatest(postgres.url);

  const died = Promise.race([
    postgres.exited.then((status) => `postgres exited (${JSON.stringify(status)})`),
    temporal.exited.then((status) => `temporal exited (${JSON.stringify(status)})`),
  ]);
  const providerPort = await freePort();
  const baseEnv = { ...process.env, LOG_LEVEL: 'warn', SEND_API_TOKEN: TOKEN };
  const provider = await spawnNode('fake provider', builtPath('stack/fake-provider/main.ts'), { ...baseEnv, FAKE_PROVIDER_PORT: String(providerPort) }, logger, parts);
  await waitUntilReady(provider, () => tcpProbe('127.0.0.1', providerPort), STARTUP_TIMEOUT_MS);

  const providerUrl = `http://127.0.0.1:${providerPort}/v1`;
  // Workers in production start from a prebuilt bundle (`npm run bundle`); so does the measured one.
  const workflowBundle = path.join(dir, 'workflow-bundle.js');
  await writeWorkflowBundle(workflowBundle);
  const workerEnv = {
    ...baseEnv,
    WORKFLOW_BUNDLE_PATH: workflowBundle,
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
    SEND_API_URL: providerUrl,
  };
  const pid = (exe: RegExp, name: string) => {
    const found = childByExecutable(process.pid, exe);
    if (found === undefined) throw new Error(`cannot find the ${name} process`);
    return found;
  };
  return {
    databaseUrl: postgres.url,
    temporalAddress: temporal.address,
    providerUrl,
    token: TOKEN,
    pids: { postgres: pid(/\/postgres$/, 'postgres'), temporal: pid(/\/temporal$/, 'temporal'), provider: provider.pid },
    died: Promise.race([died, provider.exited.then((status) => `fake provider exited (${JSON.stringify(status)})`)]),
    startWorker: (settings = {}) => spawnNode('worker', builtPath('worker/main.ts'), { ...workerEnv, ...settings }, logger, parts, WORKER_NODE_FLAGS),
    async startApi() {
      const port = await freePort();
      // A throwaway API on loopback: the scenarios call it without credentials.
      const api = await spawnNode('api', builtPath('api/main.ts'), { ...workerEnv, PORT: String(port), HOST: '127.0.0.1', AUTH_DISABLED: 'true' }, logger, parts, API_NODE_FLAGS);
      const url = `http://127.0.0.1:${port}`;
      await waitUntilReady(api, () => httpOk(`${url}/readyz`), STARTUP_TIMEOUT_MS);
      return { process: api, url };
    },
    startBaseline: (settings = {}) => startBaselineProcess({ ...workerEnv, ...settings }, parts),
  };
}
