import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from '../stack/repo-root';
import type { CeilingPlan, CeilingResult } from './ceiling-client';

/**
 * The most a client gets from the fake provider here: a load tool alone (bench/ceiling-client.ts) at
 * the service's requests in flight. The provider's limit (concurrency / latency) counts only its answer
 * time; HTTP, timers and the machine take the rest, for every client.
 */
export async function providerCeiling(provider: { url: string; token: string }, connections: number, { warmupSeconds = 2, seconds = 8 } = {}): Promise<CeilingResult> {
  const plan: CeilingPlan = { ...provider, connections, warmupSeconds, seconds };
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/ceiling-client.ts'], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_CEILING: JSON.stringify(plan) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`the provider ceiling client exited with ${signal ?? code}`);
  return JSON.parse(output) as CeilingResult;
}
