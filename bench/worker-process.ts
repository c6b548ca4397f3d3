import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { killWithParent } from '../stack/process/managed-process';
import { repoRoot } from '../stack/repo-root';
import { WORKER_NODE_FLAGS } from '../worker/node-flags';

/** The line `worker/main.ts` logs once it polls its task queue. */
const READY_MARKER = '"worker running"';
const RECENT_LINES = 200;

/**
 * The real worker entry point (`worker/main.ts`) as a child process that can be SIGKILLed the way a
 * crash would, as in test/support/worker-process.ts (bench/ does not import from test/). Its own
 * process group, so a terminal's Ctrl-C reaches only the fault run, which stops it; an orphan guard
 * kills it if the fault run dies without stopping it. Its log stays in memory: the last lines, and
 * how many were at error level or worse.
 */
export class WorkerProcess {
  private child?: ChildProcess;
  private recent: string[] = [];
  private expectedExit = false;
  /** pino lines at level error (50) or fatal (60). */
  errorLines = 0;
  /** Set when the process exited without being told to. */
  unexpectedExit?: string;

  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', 'worker/main.ts'], {
      cwd: repoRoot,
      env: this.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const guard = killWithParent(child.pid!, 'SIGTERM', 10_000);
    let ready = false;
    let resolveReady!: () => void;
    const readyPromise = new Promise<void>((resolve) => (resolveReady = resolve));
    const follow = (stream: Readable) =>
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.recent.push(line);
        if (this.recent.length > RECENT_LINES) this.recent.shift();
        if (/"level":(50|60)\b/.test(line)) this.errorLines++;
        if (!ready && line.includes(READY_MARKER)) {
          ready = true;
          resolveReady();
        }
      });
    follow(child.stdout!);
    follow(child.stderr!);
    const exited = once(child, 'exit').then(([code, signal]) => {
      guard.release();
      if (!this.expectedExit) this.unexpectedExit = `exited with ${signal ?? `code ${code}`}`;
      return `${this.name} exited (${signal ?? `code ${code}`}) before it was ready:\n${this.tail(40)}`;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`${this.name} not ready after ${timeoutMs} ms:\n${this.tail(40)}`), timeoutMs)));
    try {
      const failure = await Promise.race([readyPromise.then(() => undefined), exited, timeout]);
      if (failure !== undefined) {
        await this.stop();
        throw new Error(failure);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Sends `signal` and waits for the exit; SIGKILL to the process group after `graceMs`. */
  async kill(signal: NodeJS.Signals, graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectedExit = true;
    const exited = once(child, 'exit');
    child.kill(signal);
    const killer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    try {
      await exited;
    } finally {
      clearTimeout(killer);
    }
  }

  /** The polite stop (SIGTERM lets requests in flight finish), forced after a while. */
  stop(): Promise<void> {
    return this.kill('SIGTERM', 15_000);
  }

  tail(lines: number): string {
    return this.recent.slice(-lines).join('\n');
  }
}
