import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedProcess } from './managed-process';

const POLL_MS = 250;

/**
 * Polls `probe` until it resolves. Fails early, with the process's last output, if the process
 * exits first; fails after `timeoutMs` with the probe's last error.
 */
export async function waitUntilReady(process: ManagedProcess, probe: () => Promise<void>, timeoutMs: number): Promise<void> {
  let exited = false;
  void process.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${process.name} exited during startup:\n${process.recentOutput()}`);
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`${process.name} not ready after ${timeoutMs} ms (${(error as Error).message}):\n${process.recentOutput()}`);
      }
    }
    await sleep(POLL_MS);
  }
}
