import assert from 'node:assert/strict';
import { toOutcome, type SendingPolicy } from '../../activities/send-outcome';
import type { ClaimedMessage } from '../../storage/messages';

const POLICY: SendingPolicy = { concurrency: 4, requestTimeoutMs: 10_000, retryInitialMs: 1_000, retryMaxMs: 60_000, outageThreshold: 20 };
const message: ClaimedMessage = { id: 1, phone: '79160000000', timezone: 'UTC', leftOut: false, attempts: 0 };
const HOUR = 3_600_000;

function retryAfter(retryAfterMs: number, lastStartAt = Date.now() + HOUR) {
  const before = Date.now();
  const outcome = toOutcome(POLICY, message, { result: 'retry', error: 'provider rate limit (429)', retryAfterMs }, lastStartAt, null);
  return { dueInMs: outcome.retryAt!.getTime() - before, outcome };
}

describe("a provider's Retry-After", () => {
  it('sets when the message is due again', () => {
    const { dueInMs, outcome } = retryAfter(5_000);
    assert.equal(outcome.status, 'pending');
    assert.ok(dueInMs >= 5_000 && dueInMs < 5_100, `due in ${dueInMs} ms`);
  });

  it('is never sooner than a second, so that a 0 does not have the lanes ask again at once', () => {
    const { dueInMs } = retryAfter(0);
    assert.ok(dueInMs >= 1_000, `due in ${dueInMs} ms`);
  });

  it('is never later than the last moment a request may start, however far it points (and so always storable)', () => {
    const lastStartAt = Date.now() + HOUR;
    const { outcome } = retryAfter(1e16, lastStartAt);
    assert.equal(outcome.retryAt!.getTime(), lastStartAt);
  });
});
