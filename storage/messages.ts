import { Model } from 'objection';
import type { components } from '../api/schema';
import type { AudienceFilter } from './mailings';
import { afterId, Page, PageRequest, toPage } from './page';

export type Message = components['schemas']['Message'];
export type MessageStatus = Message['status'];
export type StatusCounts = Record<MessageStatus, number>;

export class MessageRow extends Model {
  static tableName = 'messages';
}

const knex = () => MessageRow.knex();

const columns = ['id', 'mailing_id', 'client_id', 'status', 'attempts', 'last_error', 'created_at', 'sent_at'];

function toMessage(row: Record<string, unknown>): Message {
  return {
    id: Number(row.id),
    mailing_id: Number(row.mailing_id),
    client_id: row.client_id === null ? null : Number(row.client_id),
    status: row.status as MessageStatus,
    attempts: row.attempts as number,
    last_error: row.last_error as string | null,
    created_at: (row.created_at as Date).toISOString(),
    sent_at: row.sent_at ? (row.sent_at as Date).toISOString() : null,
  };
}

// A filter key that is absent matches every client; a present key matches any of its values.
const MATCHES_FILTER = `(:codes::text[] IS NULL OR c.mobile_operator_code = ANY(:codes::text[]))
  AND (:tags::text[] IS NULL OR c.tag = ANY(:tags::text[]))`;

const filterBindings = (filter: AudienceFilter) => ({
  codes: filter.mobile_operator_code ?? null,
  tags: filter.tag ?? null,
});

/**
 * Records one pending message per matching client in a single statement, so the audience never
 * passes through application memory. The unique (mailing_id, client_id) key makes it idempotent.
 */
export async function recordAudience(mailingId: number, filter: AudienceFilter): Promise<number> {
  const result = await knex().raw(
    `INSERT INTO messages (mailing_id, client_id, due_at)
     SELECT :mailingId, c.id, now() FROM clients c WHERE ${MATCHES_FILTER}
     ON CONFLICT (mailing_id, client_id) DO NOTHING`,
    { mailingId, ...filterBindings(filter) },
  );
  return result.rowCount;
}

/** Pending messages of clients that no longer match the filter are cancelled; sent ones are history. */
export async function cancelUnmatched(mailingId: number, filter: AudienceFilter): Promise<number> {
  const result = await knex().raw(
    `UPDATE messages m SET status = 'cancelled', last_error = 'client no longer matches the mailing filter', lease_until = NULL
     FROM clients c
     WHERE m.mailing_id = :mailingId AND m.status = 'pending' AND c.id = m.client_id AND NOT (${MATCHES_FILTER})`,
    { mailingId, ...filterBindings(filter) },
  );
  return result.rowCount;
}

export interface ClaimedMessage {
  id: number;
  phone: string | null;
  attempts: number;
}

/**
 * Leases the next due messages of a mailing to one send batch. SKIP LOCKED lets parallel batches
 * (on any worker) take disjoint messages; a lease that runs out frees the messages of a batch that died.
 * A batch resumes after the last id it claimed (`afterId`), so it does not rescan the messages it
 * and its siblings hold leased at the front of the index.
 */
export async function claimDue(mailingId: number, limit: number, leaseMs: number, afterId = 0): Promise<ClaimedMessage[]> {
  const result = await knex().raw(
    `WITH due AS (
       SELECT id, client_id FROM messages
       WHERE mailing_id = :mailingId AND status = 'pending' AND id > :afterId AND due_at <= now()
         AND (lease_until IS NULL OR lease_until < now())
       ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
     UPDATE messages m SET lease_until = now() + make_interval(secs => :leaseMs / 1000.0)
     FROM due LEFT JOIN clients c ON c.id = due.client_id
     WHERE m.id = due.id
     RETURNING m.id, c.phone_number AS phone, m.attempts`,
    { mailingId, limit, leaseMs, afterId },
  );
  return result.rows.map((r: { id: string; phone: string | null; attempts: number }) => ({ ...r, id: Number(r.id) }));
}

export interface SendOutcome {
  id: number;
  status: 'sent' | 'failed' | 'pending' | 'cancelled';
  error: string | null;
  /** For a message to retry: when the next attempt may start. */
  retryAt: Date | null;
}

/**
 * Writes a batch of send outcomes in one statement; a success keeps the last error for the audit.
 * A delivery is recorded even over a cancellation or expiry that raced it, because the audit must
 * say what the provider accepted.
 */
export async function recordOutcomes(outcomes: SendOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await knex().raw(
    `UPDATE messages m SET
       status = r.status,
       attempts = m.attempts + 1,
       sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE m.sent_at END,
       last_error = COALESCE(r.error, m.last_error),
       due_at = COALESCE(r.retry_at, m.due_at),
       lease_until = NULL
     FROM unnest(:ids::bigint[], :statuses::text[], :errors::text[], :retryAts::timestamptz[]) AS r(id, status, error, retry_at)
     WHERE m.id = r.id AND (m.status = 'pending' OR r.status = 'sent')`,
    {
      ids: outcomes.map((o) => o.id),
      statuses: outcomes.map((o) => o.status),
      errors: outcomes.map((o) => o.error),
      retryAts: outcomes.map((o) => o.retryAt),
    },
  );
}

/** Gives back leased messages a batch did not get to, so the next batch need not wait for the lease. */
export async function releaseLeases(ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await knex().raw(`UPDATE messages SET lease_until = NULL WHERE id = ANY(:ids::bigint[]) AND status = 'pending'`, { ids });
}

export interface PendingSummary {
  pending: number;
  /** When the earliest pending message becomes claimable; null when none is pending. */
  nextDueAt: string | null;
}

export async function pendingSummary(mailingId: number): Promise<PendingSummary> {
  const result = await knex().raw(
    `SELECT count(*)::int AS pending, min(greatest(due_at, coalesce(lease_until, due_at))) AS next_due_at
     FROM messages WHERE mailing_id = :mailingId AND status = 'pending'`,
    { mailingId },
  );
  const row = result.rows[0];
  return { pending: row.pending, nextDueAt: row.next_due_at ? row.next_due_at.toISOString() : null };
}

/** Closes every message still pending: `expired` at the end time, `cancelled` when the mailing is deleted. */
export async function closePending(mailingId: number, status: 'expired' | 'cancelled', reason: string, trx?: Parameters<typeof MessageRow.query>[0]): Promise<number> {
  return MessageRow.query(trx)
    .patch({ status, last_error: reason, lease_until: null } as object)
    .where({ mailing_id: mailingId, status: 'pending' });
}

export interface MessageFilter {
  mailing_id?: number;
  client_id?: number;
  status?: MessageStatus;
}

export async function listMessages(filter: MessageFilter, page: PageRequest): Promise<Page<Message>> {
  const rows = await MessageRow.query()
    .select(columns)
    .where(filter)
    .where('id', '>', afterId(page))
    .orderBy('id')
    .limit(page.limit + 1);
  return toPage((rows as unknown as Record<string, unknown>[]).map(toMessage), page.limit);
}

export async function findMessage(id: number): Promise<Message | undefined> {
  const row = await MessageRow.query().findById(id).select(columns);
  return row && toMessage(row as unknown as Record<string, unknown>);
}

const zeroCounts = (): StatusCounts => ({ pending: 0, sent: 0, failed: 0, expired: 0, cancelled: 0 });

/** Counts per status of each given mailing, aggregated in SQL over the (mailing_id, status, id) index. */
export async function countsByMailing(mailingIds: number[]): Promise<Map<number, StatusCounts>> {
  const rows = await MessageRow.query()
    .select('mailing_id', 'status')
    .count('* as count')
    .whereIn('mailing_id', mailingIds)
    .groupBy('mailing_id', 'status');
  const counts = new Map(mailingIds.map((id) => [id, zeroCounts()]));
  for (const row of rows as unknown as { mailing_id: string; status: MessageStatus; count: string }[]) {
    counts.get(Number(row.mailing_id))![row.status] = Number(row.count);
  }
  return counts;
}

/** Counts per status over every mailing that is not deleted. */
export async function totalCounts(): Promise<StatusCounts> {
  const result = await knex().raw(
    `SELECT m.status, count(*) AS count FROM messages m
     JOIN mailings ml ON ml.id = m.mailing_id AND ml.deleted_at IS NULL
     GROUP BY m.status`,
  );
  const totals = zeroCounts();
  for (const row of result.rows as { status: MessageStatus; count: string }[]) totals[row.status] = Number(row.count);
  return totals;
}

export async function sendTimes(mailingId: number): Promise<{ first_sent_at: string | null; last_sent_at: string | null }> {
  const result = await knex().raw(
    `SELECT min(sent_at) AS first, max(sent_at) AS last FROM messages WHERE mailing_id = :mailingId AND sent_at IS NOT NULL`,
    { mailingId },
  );
  const { first, last } = result.rows[0];
  return { first_sent_at: first ? first.toISOString() : null, last_sent_at: last ? last.toISOString() : null };
}
