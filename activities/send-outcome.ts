import type { ClaimedMessage, SendOutcome } from '../storage/messages';
import type { Delivery } from './provider';
import { nextOpening, type SendWindow } from './send-window';

/** How a worker sends, from its configuration (worker/worker.ts). */
export interface SendingPolicy {
  /** Requests in flight at once on this worker, across all mailings. */
  concurrency: number;
  requestTimeoutMs: number;
  /** Backoff of a message's retries: from `retryInitialMs`, doubling, never above `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** Consecutive unreachable answers after which a batch stops and lets the workflow back off. */
  outageThreshold: number;
  /** How long a batch starts requests before it reports back: BATCH_TIME_LIMIT_MS unless set (tests shorten it). */
  batchTimeLimitMs?: number;
}

/** Full jitter over an exponential backoff, so that retries of many messages spread out. */
function backoffMs(policy: SendingPolicy, attempt: number): number {
  const ceiling = Math.min(policy.retryMaxMs, policy.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

// Retry-After counts in seconds: the shortest wait it can mean besides none.
const MIN_RETRY_AFTER_MS = 1_000;

/**
 * The provider's `Retry-After`, within bounds: never sooner than a second (a 0, or a date past, would
 * have the mailing's lanes ask again at once, request after request) and never later than the last
 * moment a request may start (later is never; a time years ahead is not even storable).
 */
function retryAfterUntil(now: number, retryAfterMs: number, lastStartAt: number): number {
  return Math.max(now + MIN_RETRY_AFTER_MS, Math.min(now + retryAfterMs, lastStartAt));
}

/**
 * What to write for an answer. A retry is never due after the last moment a request may still start
 * (while an earlier attempt could succeed), nor outside the client's send window, and an unreachable
 * provider (the whole provider, not this message) neither counts as an attempt nor grows the
 * message's backoff.
 */
export function toOutcome(policy: SendingPolicy, message: ClaimedMessage, delivery: Delivery, lastStartAt: number, window: SendWindow | null): SendOutcome {
  switch (delivery.result) {
    case 'sent':
      return { id: message.id, status: 'sent', error: null, retryAt: null, attempted: true };
    case 'failed':
      return { id: message.id, status: 'failed', error: delivery.error, retryAt: null, attempted: true };
    case 'retry': {
      const now = Date.now();
      const delay = delivery.unreachable ? policy.retryInitialMs : backoffMs(policy, message.attempts + 1);
      const backoffUntil =
        delivery.retryAfterMs !== undefined
          ? retryAfterUntil(now, delivery.retryAfterMs, lastStartAt)
          : Math.max(now + Math.min(delay, policy.retryInitialMs), Math.min(now + delay, lastStartAt - policy.requestTimeoutMs));
      // A retry that would fall outside the client's send window waits for its next opening.
      const retryAt = window && message.timezone ? nextOpening(message.timezone, window, backoffUntil).at : backoffUntil;
      return { id: message.id, status: 'pending', error: delivery.error, retryAt: new Date(retryAt), attempted: !delivery.unreachable };
    }
  }
}
