import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

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
