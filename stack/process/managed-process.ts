/** Child processes of the stack: spawned to die with us, stopped on request, waited for until ready. */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../config/logger';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type LogLevel = 'debug' | 'info' | 'warn';

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this OS user (postgres refuses to run as root). */
  user?: { uid: number; gid: number };
  /** Share our stdout/stderr, or feed each output line to the logger at a level per stream. */
  output: 'inherit' | { stdout: LogLevel; stderr: LogLevel };
  /** The polite stop signal; SIGKILL to the whole process group follows after `stopTimeoutMs`. */
  stopSignal?: NodeJS.Signals;
  stopTimeoutMs?: number;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Settles when the process exits, whether asked to or not. */
  readonly exited: Promise<ExitStatus>;
  /** The last lines it printed (piped output only), for error messages. */
  recentOutput(): string;
  stop(): Promise<ExitStatus>;
}

const RECENT_LINES = 40;

/** Spawns a long-running child that dies with us, stops on request and reports its exit. */
export async function spawnManaged(options: ManagedProcessOptions): Promise<ManagedProcess> {
  const { name, logger, stopSignal = 'SIGTERM', stopTimeoutMs = 10_000 } = options;
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    ...options.user,
    // Own process group: a terminal's Ctrl-C reaches only us, so we stop children in order.
    detached: true,
    stdio: options.output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new Error(`cannot start ${name} (${options.command}): ${error.message}`)));
  });
  child.on('error', (error) => logger.error({ err: error }, `${name}: process error`));
  const pid = child.pid!;
  const guard = killWithParent(pid, stopSignal, stopTimeoutMs);

  let stopping: Promise<ExitStatus> | undefined;
  const recent: string[] = [];
  if (options.output !== 'inherit') {
    const log = logger.child({ process: name });
    const levels = options.output;
    const follow = (stream: Readable, level: LogLevel) =>
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        recent.push(line);
        if (recent.length > RECENT_LINES) recent.shift();
        // Once we asked it to stop, its complaints about closing connections are expected.
        log[stopping ? 'debug' : level](line);
      });
    follow(child.stdout!, levels.stdout);
    follow(child.stderr!, levels.stderr);
  }

  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) =>
    child.once('exit', (code, signal) => {
      guard.release();
      status = { code, signal };
      resolve(status);
    }),
  );

  const stop = async () => {
    if (status) return status;
    sendSignal(pid, stopSignal);
    const killer = setTimeout(() => {
      logger.warn(`${name} ignored ${stopSignal} for ${stopTimeoutMs} ms; killing it`);
      sendSignal(-pid, 'SIGKILL');
    }, stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  };
  return { name, pid, exited, recentOutput: () => recent.join('\n'), stop: () => (stopping ??= stop()) };
}

/** `process.kill`, except that a process that is already gone is no error. */
function sendSignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

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

/**
 * Reads its stdin until EOF, which comes when our end of the pipe closes: when this process exits
 * for any reason, SIGKILL included. Then it signals the child, gives it the grace period (in
 * seconds) to exit, and kills the child's whole process group.
 */
const WATCHDOG = [
  'while read -r _; do :; done',
  'kill -s "$1" "$2" 2>/dev/null',
  'i=0; while [ "$i" -lt "$3" ] && kill -0 "$2" 2>/dev/null; do sleep 1; i=$((i + 1)); done',
  'kill -s KILL -- "-$2" 2>/dev/null',
].join('\n');

/**
 * Linux lets a child outlive its parent, so a crashed or SIGKILLed `npm start` / test run would
 * leave servers holding ports and data dirs. A tiny detached `sh` watchdog kills the child (a
 * process-group leader) once we are gone. `release()` once the child has exited on its own.
 */
export function killWithParent(pid: number, signal: NodeJS.Signals, graceMs: number): { release(): void } {
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'orphan-guard', signal.replace(/^SIG/, ''), String(pid), String(Math.ceil(graceMs / 1000))], {
    // Own session: a terminal's Ctrl-C must not kill the watchdog before it is needed.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither the watchdog nor its pipe may keep our event loop alive.
  watchdog.unref();
  (watchdog.stdin as Socket).unref();
  watchdog.on('error', () => undefined);
  return {
    release() {
      // SIGKILL first: closing the pipe while it lives would make it fire.
      watchdog.once('exit', () => watchdog.stdin?.destroy());
      watchdog.kill('SIGKILL');
    },
  };
}
