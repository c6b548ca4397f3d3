import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../config/logger';
import { logOutcomes } from '../../activities/message-log';
import type { SendOutcome } from '../../storage/messages';

/** The `outcome` field of each `send outcome recorded` line written at `debug` for `outcomes`. */
function loggedOutcomes(outcomes: SendOutcome[]): string[] {
  const lines: { outcome: string }[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  logOutcomes(createLogger('debug', 'message-log-spec', destination), 1, outcomes);
  return lines.map((line) => line.outcome);
}

describe('the per-message outcome lines', () => {
  const later = new Date(Date.now() + 60_000);

  it('tell a message held for its send window from one whose provider was unreachable or answered an error', () => {
    assert.deepEqual(
      loggedOutcomes([
        { id: 1, status: 'pending', error: null, retryAt: later, attempted: false },
        { id: 2, status: 'pending', error: 'connect ECONNREFUSED 127.0.0.1:9', retryAt: later, attempted: false },
        { id: 3, status: 'pending', error: 'HTTP 503', retryAt: later, attempted: true },
      ]),
      ['waits for its send window', 'retry scheduled', 'retry scheduled'],
    );
  });

  it('name a settled message by its status', () => {
    assert.deepEqual(
      loggedOutcomes([
        { id: 1, status: 'sent', error: null, retryAt: null, attempted: true },
        { id: 2, status: 'failed', error: 'HTTP 400', retryAt: null, attempted: true },
        { id: 3, status: 'cancelled', error: 'client was deleted', retryAt: null, attempted: false },
      ]),
      ['sent', 'failed', 'cancelled'],
    );
  });
});
