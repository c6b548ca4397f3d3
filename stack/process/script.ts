/** How a script of the stack runs: its exit code, and Ctrl-C / SIGTERM / SIGHUP as one request to stop. */
import type { Logger } from '../../config/logger';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class StopRequested extends Error {}

export interface StopSignals {
  /** Resolves with the first stop signal received. */
  readonly received: Promise<NodeJS.Signals>;
  /** Throws StopRequested once a signal came: lets a long start-up give up between steps. */
  throwIfRequested(): void;
}

/**
 * Turns Ctrl-C / SIGTERM / SIGHUP into one request to stop. Repeats are ignored rather than
 * treated as "force": `npm start` forwards the terminal's SIGINT, so the child gets it twice.
 */
export function listenForStopSignals(logger: Logger): StopSignals {
  let requested: NodeJS.Signals | undefined;
  let resolve!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      if (requested) {
        logger.info(`${signal}: already stopping`);
        return;
      }
      requested = signal;
      logger.info(`${signal}: stopping`);
      resolve(signal);
    });
  }
  return {
    received,
    throwIfRequested() {
      if (requested) throw new StopRequested(`stop requested (${requested})`);
    },
  };
}

/**
 * Runs a script's `main` and exits with the code it returns (0 for none), or with 1 after printing what
 * it threw (before any logger exists, e.g. an invalid configuration). The exit is explicit: client
 * connections and timers must not keep a finished script alive.
 */
export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
