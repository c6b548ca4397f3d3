import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../config/logger';
import { killWithParent } from './orphan-guard';

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
