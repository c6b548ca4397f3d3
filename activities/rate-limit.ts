import { setTimeout as sleep } from 'node:timers/promises';
import { countRateLimitWait } from './metrics';

export interface RateLimiter {
  /** Takes a token for one more provider request: nothing when one is at hand, else a promise that resolves once it is (a request waits for no promise it need not). */
  acquire(): Promise<void> | void;
}

const unlimited: RateLimiter = { acquire: () => undefined };

/**
 * A worker's share of a deployment-wide rate: tokens come from a shared bucket (`take`) in chunks of
 * about 50 ms worth, so the bucket is asked ~20 times a second per busy worker, not once per request.
 */
export function createRateLimiter(ratePerSecond: number, take: (want: number, rate: number, burst: number) => Promise<number>): RateLimiter {
  if (ratePerSecond <= 0) return unlimited;
  const chunk = Math.max(1, Math.ceil(ratePerSecond / 20));
  let tokens = 0;
  let refilling: Promise<void> | undefined;

  const refill = async () => {
    for (;;) {
      const granted = await take(chunk, ratePerSecond, chunk);
      if (granted > 0) {
        tokens += granted;
        return;
      }
      const waitMs = Math.ceil((1000 * chunk) / ratePerSecond / 2);
      countRateLimitWait(waitMs);
      await sleep(waitMs);
    }
  };

  return {
    acquire() {
      if (tokens > 0) {
        tokens--;
        return;
      }
      return (async () => {
        while (tokens <= 0) {
          refilling ??= refill().finally(() => (refilling = undefined));
          await refilling;
        }
        tokens--;
      })();
    },
  };
}
