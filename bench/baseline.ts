import { createProvider } from '../activities/provider';
import type { Database } from '../storage/database';
import * as messages from '../storage/messages';
import type { SendOutcome } from '../storage/messages';

// As in activities/mailing.ts: outcomes are written in batches of this many.
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
  // workflow_started: the worker's reconciler must not start a workflow for this row.
  const { rows } = await db.raw(
    `INSERT INTO mailings (start_at, end_at, text, status, workflow_started)
     VALUES (now(), now() + interval '1 hour', 'Benchmark message', 'running', true) RETURNING id`,
  );
  const mailingId = Number(rows[0].id);
  await messages.recordAudience(mailingId, {});
  const queue: { id: string; phone: string }[] = (
    await db.raw(`SELECT m.id, c.phone_number AS phone FROM messages m JOIN clients c ON c.id = m.client_id WHERE m.mailing_id = ? ORDER BY m.id`, [mailingId])
  ).rows;

  const provider = createProvider({ url: providerUrl, token, timeoutMs, connections: concurrency });
  const outcomes: SendOutcome[] = [];
  let next = 0;
  const sender = async () => {
    // Never aborted; one per sender, so that no signal has more than one request listening.
    const never = new AbortController().signal;
    while (next < queue.length) {
      const { id, phone } = queue[next++];
      const delivery = await provider.send({ id: Number(id), phone, text: 'Benchmark message' }, never);
      const sent = delivery.result === 'sent';
      outcomes.push({ id: Number(id), status: sent ? 'sent' : 'failed', error: sent ? null : delivery.error, retryAt: null });
      if (outcomes.length >= FLUSH_EVERY) await messages.recordOutcomes(outcomes.splice(0));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, sender));
    await messages.recordOutcomes(outcomes.splice(0));
  } finally {
    await provider.close();
  }
  await db.raw(`UPDATE mailings SET status = 'finished' WHERE id = ?`, [mailingId]);
  return mailingId;
}
