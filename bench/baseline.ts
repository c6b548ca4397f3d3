import { createProvider } from '../activities/provider';
import type { Database } from '../storage/database';
import * as messages from '../storage/messages';
import type { SendOutcome } from '../storage/messages';

// Outcomes are written this many at a time: about what 50 ms of answers bring the service's worker
// (activities/outcome-writer.ts) at 64 requests in flight.
const FLUSH_EVERY = 100;

export interface BaselineOptions {
  providerUrl: string;
  token: string;
  concurrency: number;
  timeoutMs: number;
}

/**
 * The floor the service is compared with: the same messages rows, provider client, concurrency and
 * batched status UPDATEs, but a plain loop in one process, with no Temporal, leases or re-reads.
 * Returns the id of the mailing row whose messages it sent.
 */
export async function runBaseline(db: Database, { providerUrl, token, concurrency, timeoutMs }: BaselineOptions): Promise<number> {
  // Final from the start: the worker's reconciler must not start a workflow for this row.
  const { rows } = await db.raw(
    `INSERT INTO mailings (start_at, end_at, text, status, audience_done)
     VALUES (now(), now() + interval '1 hour', 'Benchmark message', 'finished', true) RETURNING id`,
  );
  const mailingId = Number(rows[0].id);
  await db.raw(`INSERT INTO messages (mailing_id, client_id, phone) SELECT ?, id, phone_number FROM clients ORDER BY id`, [mailingId]);
  const { token: claim, messages: queue } = await messages.claimDue(mailingId, 10_000_000, 3_600_000);

  const provider = createProvider({ url: providerUrl, token, timeoutMs, connections: concurrency });
  const outcomes: SendOutcome[] = [];
  let next = 0;
  // Never aborted; shared by all senders, as a send batch shares its own.
  const never = new AbortController().signal;
  const sender = async () => {
    while (next < queue.length) {
      const { id, phone } = queue[next++];
      const delivery = await provider.send({ id, phone: phone!, text: 'Benchmark message' }, never);
      const sent = delivery.result === 'sent';
      outcomes.push({ id, status: sent ? 'sent' : 'failed', error: sent ? null : delivery.error, retryAt: null, attempted: true });
      if (outcomes.length >= FLUSH_EVERY) await messages.recordOutcomes(claim, outcomes.splice(0));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, sender));
    await messages.recordOutcomes(claim, outcomes.splice(0));
  } finally {
    await provider.close();
  }
  return mailingId;
}
