import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock dir whose owner wrote no pid within this long died between mkdir and writeFile. */
const PIDLESS_STALE_MS = 30_000;

/**
 * Runs `fn` while holding `lockDir`. mkdir is atomic, so of two processes (two test runs, `npm start`
 * beside `npm run setup`) only one gets in; a lock whose owner died is taken over.
 */
export async function withDirLock<T>(lockDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStale(lockDir)) {
      await rm(lockDir, { recursive: true, force: true });
    } else if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${lockDir}; remove it if no install is running`);
    } else {
      await sleep(500);
    }
  }
  await writeFile(path.join(lockDir, 'pid'), String(process.pid));
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function isStale(lockDir: string): Promise<boolean> {
  const pid = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => ''));
  if (!pid) {
    const created = await stat(lockDir).then((s) => s.mtimeMs, () => Date.now());
    return Date.now() - created > PIDLESS_STALE_MS;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
