import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../stack/repo-root';
import { startTestStack, stopTestStack } from '../test/support/stack';
import { freePort } from '../stack/process/ports';
import { statusKb } from './proc';
import { API_NODE_FLAGS } from '../api/node-flags';
import { WORKER_NODE_FLAGS } from '../worker/node-flags';

/**
 * `npm run bench:memory` (after `npm run build`): the resident memory of the API and the worker run
 * the development way (tsx compiling TypeScript at load) and the production way (plain node on
 * dist/). Each variant starts alone against a throwaway PostgreSQL and Temporal dev server (or
 * DATABASE_URL / TEMPORAL_ADDRESS), settles, serves a little traffic (API) or idles (worker), and
 * VmRSS (now) and VmHWM (peak) are read from /proc; MEMORY_ROUNDS (3) rounds, medians reported.
 */

const BUNDLE = path.join(repoRoot, 'dist', 'workflow-bundle.js');
const SETTLE_MS = 3_000;
const API_REQUESTS = 300;
const ROUNDS = Number(process.env.MEMORY_ROUNDS ?? 3);

interface Variant {
  name: string;
  kind: 'api' | 'worker';
  args: string[];
  env?: Record<string, string>;
}

const variants: Variant[] = [
  { name: 'API, tsx (npm run api)', kind: 'api', args: [...API_NODE_FLAGS, '--import', 'tsx', 'api/main.ts'] },
  { name: 'API, compiled (npm run api:prod)', kind: 'api', args: [...API_NODE_FLAGS, 'dist/api/main.js'] },
  { name: 'worker, tsx, bundling at start (npm run worker)', kind: 'worker', args: [...WORKER_NODE_FLAGS, '--import', 'tsx', 'worker/main.ts'] },
  {
    name: 'worker, tsx, prebuilt bundle',
    kind: 'worker',
    args: [...WORKER_NODE_FLAGS, '--import', 'tsx', 'worker/main.ts'],
    env: { WORKFLOW_BUNDLE_PATH: BUNDLE },
  },
  {
    name: 'worker, compiled, prebuilt bundle (npm run worker:prod, the image)',
    kind: 'worker',
    args: [...WORKER_NODE_FLAGS, 'dist/worker/main.js'],
    env: { WORKFLOW_BUNDLE_PATH: BUNDLE },
  },
];

async function main() {
  if (!existsSync(BUNDLE)) throw new Error('run `npm run build` first: dist/ is missing');
  const stack = await startTestStack();
  try {
    const results = variants.map(() => ({ rss: [] as number[], peak: [] as number[] }));
    // Rounds interleave the variants, so a busy moment of the machine does not favour one of them.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, variant] of variants.entries()) {
        const { rss, peak } = await measure(variant, { DATABASE_URL: stack.databaseUrl, TEMPORAL_ADDRESS: stack.temporalAddress });
        results[i].rss.push(rss);
        results[i].peak.push(peak);
        console.log(`round ${round}, ${variant.name}: RSS ${mb(rss)} MB, peak ${mb(peak)} MB`);
      }
    }
    console.log(`\n| process (${ROUNDS} runs) | RSS after start (API: and ${API_REQUESTS} requests), median (min-max) | peak RSS, median |\n| --- | --- | --- |`);
    for (const [i, variant] of variants.entries()) {
      const { rss, peak } = results[i];
      console.log(`| ${variant.name} | ${mb(median(rss))} MB (${mb(Math.min(...rss))}-${mb(Math.max(...rss))}) | ${mb(median(peak))} MB |`);
    }
  } finally {
    await stopTestStack();
  }
}

const mb = (kb: number) => (kb / 1024).toFixed(0);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measure(variant: Variant, stackEnv: Record<string, string>): Promise<{ rss: number; peak: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, variant.args, {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...stackEnv,
      LOG_LEVEL: 'info',
      PORT: String(port),
      HOST: '127.0.0.1',
      // The worker needs a provider; it sends nothing here (no mailing exists).
      SEND_API_URL: 'http://127.0.0.1:9/v1',
      SEND_API_TOKEN: 'memory-probe',
      // A throwaway API on loopback that the measurement calls without credentials.
      AUTH_DISABLED: 'true',
      ...variant.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    if (variant.kind === 'api') {
      await waitForOutput(child, '"API listening"');
      await apiTraffic(`http://127.0.0.1:${port}`);
    } else {
      await waitForOutput(child, '"worker running"');
    }
    await sleep(SETTLE_MS);
    const rss = statusKb(child.pid!, 'VmRSS');
    const peak = statusKb(child.pid!, 'VmHWM');
    if (rss === undefined || peak === undefined) throw new Error(`${variant.name} exited before it was measured`);
    return { rss, peak };
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

function waitForOutput(child: ChildProcess, marker: string): Promise<void> {
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(marker)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ${marker}:\n${output.slice(-2000)}`)));
  });
}

/** Reads and writes through the contract: validation, the database, Swagger UI assets. */
async function apiTraffic(base: string): Promise<void> {
  const run = `${Date.now()}`.slice(-6);
  for (let i = 0; i < API_REQUESTS; i++) {
    const request =
      i % 3 === 0
        ? fetch(`${base}/api/clients/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ phone_number: `7${run}${String(i).padStart(4, '0')}`, timezone: 'Europe/Moscow', tag: 'memory' }),
          })
        : fetch(`${base}${i % 3 === 1 ? '/api/clients/?limit=100' : i % 2 ? '/docs/swagger-ui-bundle.js' : '/api/mailings/fullinfo/'}`);
    const response = await request;
    await response.arrayBuffer();
    if (response.status >= 500) throw new Error(`${response.status} from the API`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
