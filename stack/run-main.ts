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
