import { randomUUID } from 'node:crypto';
import { Model } from 'objection';
import type { components } from '../contract/schema';
import { isoTime, retryOnConflict } from './database';
import type { AudienceFilter } from './mailings';
import { keysetPage, Page, PageRequest, toPage } from './page';

export type Message = components['schemas']['Message'];
export type MessageStatus = Message['status'];

export class MessageRow extends Model {
  static tableName = 'messages';
}

const knex = () => MessageRow.knex();

const columns = () => ['id', 'mailing_id', 'client_id', 'phone', 'status', 'attempts', 'last_error', isoTime('created_at'), isoTime('due_at'), isoTime('sent_at')];

export function toMessage(row: Record<string, unknown>): Message {
  return {
    id: Number(row.id),
    mailing_id: Number(row.mailing_id),
    client_id: row.client_id === null ? null : Number(row.client_id),
    phone: row.phone as string | null,
    status: row.status as MessageStatus,
    attempts: row.attempts as number,
    last_error: row.last_error as string | null,
    created_at: row.created_at as string,
    due_at: row.due_at as string,
    sent_at: row.sent_at as string | null,
  };
}

// A filter key that is absent matches every client; a present key matches any of its values.
const matchesLists = (codes: string, tags: string) => `(${codes} IS NULL OR c.mobile_operator_code = ANY(${codes}))
  AND (${tags} IS NULL OR c.tag = ANY(${tags}))`;

export const MATCHES_FILTER = matchesLists(':codes::text[]', ':tags::text[]');

export const filterBindings = (filter: AudienceFilter) => ({
  codes: filter.mobile_operator_code ?? null,
  tags: filter.tag ?? null,
});

// Every statement that changes many message rows locks them in id order (a locking SELECT ... ORDER BY
// id), so two such writers wait for each other instead of deadlocking; claims skip locked rows instead.
//
// Only a pending message has a lease token (a claim sets it on pending messages; every change of status
// clears it), so a message is found by its id and token alone, through the primary key: a condition on
// the status would let the planner, which never knows a new mailing's messages, pick the index of
// pending messages and read all of it.

/** Why the message of a client that an edited filter left out is cancelled. */
export const LEFT_OUT = 'client no longer matches the mailing filter';

export interface ClaimedMessage {
  id: number;
  /** Null when no client has the message's phone any more (the client was deleted). */
  phone: string | null;
  /** The zone of the client with that phone now (a changed zone applies to messages not yet sent). */
  timezone: string | null;
  /** The client with that phone no longer matches the claim's filter (an edit left it out): the message is cancelled, not sent. */
  leftOut: boolean;
  attempts: number;
}

export interface Claim {
  /** Names this claim: its outcomes are written only while it still holds the messages. */
  token: string;
  messages: ClaimedMessage[];
}

// The filter as stored (lists under `mobile_operator_code` and `tag`) as the two lists matchesLists takes, read in the statement.
const storedFilterLists = (filter: string) => `
  CASE WHEN ${filter}->'mobile_operator_code' IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(${filter}->'mobile_operator_code')) END AS codes,
  CASE WHEN ${filter}->'tag' IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(${filter}->'tag')) END AS tags`;

/**
 * Leases the next due messages of a mailing to one send batch. SKIP LOCKED lets parallel batches
 * (on any worker) take disjoint messages; a lease that runs out frees the messages of a batch that died.
 * A batch resumes after the last id claimed (`afterId`: its own, or its worker's front for the
 * mailing), so it does not rescan the messages already sent or held leased; it starts again from the
 * first id only once nothing is due past that. A message goes to its recorded phone while a
 * client with that phone exists, so a client deleted and imported again is still messaged, once.
 * A message whose client the mailing's filter no longer matches comes back `leftOut`, so an edited
 * filter holds from the next claim on, not only once the audience's re-recording closes those
 * messages at its end.
 */
export async function claimDue(mailingId: number, limit: number, leaseMs: number, { afterId = 0 }: { afterId?: number } = {}): Promise<Claim> {
  const token = randomUUID();
  // One lookup of the client per message gives both facts: no row, the client was deleted; an empty
  // zone (a real one never is), it no longer matches the filter. The filter is the mailing's as this
  // statement reads it, not as the batch last read it: a batch a second behind an edit would cancel
  // the messages of the clients the edit brought in.
  const result = await knex().raw(
    `WITH due AS (
       SELECT id FROM messages
       WHERE mailing_id = :mailingId AND status = 'pending' AND id > :afterId AND due_at <= now()
         AND (lease_until IS NULL OR lease_until < now())
       ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED),
     -- Read once per claim, not once per message (a CTE used once would be inlined into the per-row lookup).
     f AS MATERIALIZED (SELECT ${storedFilterLists('filter')} FROM mailings WHERE id = :mailingId)
     UPDATE messages m SET lease_until = now() + make_interval(secs => :leaseMs / 1000.0), lease_token = :token
     FROM due WHERE m.id = due.id
     RETURNING m.id, m.attempts, m.phone,
       (SELECT CASE WHEN ${matchesLists('f.codes', 'f.tags')} THEN c.timezone ELSE '' END FROM clients c, f WHERE c.phone_number = m.phone) AS timezone`,
    { mailingId, limit, leaseMs, afterId, token },
  );
  const messages = result.rows.map((r: { id: string; phone: string | null; timezone: string | null; attempts: number }) => ({
    id: Number(r.id),
    phone: r.timezone === null ? null : r.phone,
    timezone: r.timezone || null,
    leftOut: r.timezone === '',
    attempts: r.attempts,
  }));
  return { token, messages: messages.sort((a: ClaimedMessage, b: ClaimedMessage) => a.id - b.id) };
}

export interface SendOutcome {
  id: number;
  status: 'sent' | 'failed' | 'pending' | 'cancelled';
  error: string | null;
  /** For a message to retry: when the next attempt may start. */
  retryAt: Date | null;
  /** False when no request reached the provider (it was unreachable), so the retry backoff does not grow. */
  attempted: boolean;
}

const MAX_ERROR_LENGTH = 500;

/** Provider text made storable: no NUL bytes (PostgreSQL text refuses them), no lone surrogates, bounded. */
function storableText(text: string | null): string | null {
  if (text === null) return null;
  const clean = text.replace(/\u0000/g, '').toWellFormed();
  return clean.length > MAX_ERROR_LENGTH ? `${clean.slice(0, MAX_ERROR_LENGTH - 1)}…` : clean;
}

/** A retry time that is no time at all (an Invalid Date) is not stored: the message stays due as it was. */
const storableTime = (time: Date | null) => (time && Number.isNaN(time.getTime()) ? null : time);

/** An outcome, with the claim it was sent under. */
export interface ClaimOutcome {
  token: string;
  outcome: SendOutcome;
}

/** The ids of the messages written. */
async function writeOutcomes(entries: ClaimOutcome[]): Promise<Set<number>> {
  const sorted = [...entries].sort((a, b) => a.outcome.id - b.outcome.id);
  const result = await retryOnConflict(() =>
    knex().raw(
      `WITH r AS (
         SELECT * FROM unnest(:ids::bigint[], :tokens::uuid[], :statuses::text[], :errors::text[], :retryAts::timestamptz[], :attempted::boolean[])
           AS r(id, token, status, error, retry_at, attempted)),
       held AS (
         SELECT m.id FROM messages m JOIN r ON r.id = m.id
         WHERE m.id = ANY(:ids::bigint[]) AND m.lease_token = r.token ORDER BY m.id FOR UPDATE OF m)
       UPDATE messages m SET
         status = r.status,
         attempts = m.attempts + r.attempted::int,
         sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE m.sent_at END,
         settled_at = CASE WHEN r.status = 'pending' THEN m.settled_at ELSE now() END,
         last_error = COALESCE(r.error, m.last_error),
         due_at = COALESCE(r.retry_at, m.due_at),
         lease_until = NULL,
         lease_token = NULL
       FROM r JOIN held ON held.id = r.id
       WHERE m.id = held.id
       RETURNING m.id`,
      {
        ids: sorted.map((e) => e.outcome.id),
        tokens: sorted.map((e) => e.token),
        statuses: sorted.map((e) => e.outcome.status),
        errors: sorted.map((e) => storableText(e.outcome.error)),
        retryAts: sorted.map((e) => storableTime(e.outcome.retryAt)),
        attempted: sorted.map((e) => e.outcome.attempted),
      },
    ),
  );
  return new Set(result.rows.map((row: { id: string }) => Number(row.id)));
}

const isDataError = (error: unknown) => /^22/.test((error as { code?: string })?.code ?? '');

/**
 * Writes outcomes, each under its claim, in one statement (of any number of claims and mailings). Only
 * messages their claim still holds are written: a late answer of a claim whose lease ran out (or whose
 * message was expired or cancelled meanwhile) changes nothing. One outcome the database refuses never
 * holds back the others: they are then written one by one, and the refused one without its error
 * text and retry time (an outcome that could never be written would fail every batch of the worker,
 * whose answers would be lost and their messages sent again). Answers the ids of the messages written.
 */
export async function recordClaimOutcomes(entries: ClaimOutcome[]): Promise<Set<number>> {
  if (entries.length === 0) return new Set();
  try {
    return await writeOutcomes(entries);
  } catch (error) {
    if (!isDataError(error)) throw error;
    const written = new Set<number>();
    for (const entry of entries) {
      const one = await writeOutcomes([entry]).catch((single) => {
        if (!isDataError(single)) throw single;
        // Neither its text nor its retry time is kept: the message stays due as it was.
        return writeOutcomes([{ ...entry, outcome: { ...entry.outcome, error: 'the provider answer could not be stored', retryAt: null } }]);
      });
      for (const id of one) written.add(id);
    }
    return written;
  }
}

/** The outcomes of one claim (see recordClaimOutcomes); answers how many found their claim gone and were not written. */
export async function recordOutcomes(token: string, outcomes: SendOutcome[]): Promise<number> {
  return outcomes.length - (await recordClaimOutcomes(outcomes.map((outcome) => ({ token, outcome })))).size;
}

/** Gives back leased messages a batch did not get to, so the next batch need not wait for the lease. */
export async function releaseLeases(token: string, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await retryOnConflict(() =>
    knex().raw(
      `WITH held AS (SELECT id FROM messages WHERE id = ANY(:ids::bigint[]) AND lease_token = :token ORDER BY id FOR UPDATE)
       UPDATE messages m SET lease_until = NULL, lease_token = NULL FROM held WHERE m.id = held.id`,
      { ids, token },
    ),
  );
}

export interface PendingSummary {
  pending: number;
  /** When the earliest pending message becomes claimable; null when none is pending or it was not asked for. */
  nextDueAt: string | null;
}

/**
 * How many messages of a mailing are pending (from its counters), and, when `withNextDue`, when the
 * earliest becomes claimable. Only an idle batch asks for the latter: it reads every pending message.
 */
export async function pendingSummary(mailingId: number, withNextDue: boolean): Promise<PendingSummary> {
  const { rows } = await knex().raw(`SELECT coalesce(sum(count), 0)::int AS pending FROM mailing_counts WHERE mailing_id = :mailingId AND status = 'pending'`, { mailingId });
  const pending: number = rows[0].pending;
  if (pending === 0 || !withNextDue) return { pending, nextDueAt: null };
  const next = await knex().raw(
    `SELECT min(greatest(due_at, coalesce(lease_until, due_at))) AS next_due_at FROM messages WHERE mailing_id = :mailingId AND status = 'pending'`,
    { mailingId },
  );
  const nextDueAt: Date | null = next.rows[0].next_due_at;
  return { pending, nextDueAt: nextDueAt ? nextDueAt.toISOString() : null };
}

// Rows changed by one statement of a bulk close: each statement's locks are held briefly.
const CLOSE_CHUNK = 5_000;

/**
 * Closes every message still pending: `expired` at the end time, `cancelled` when the mailing is
 * deleted; `where` narrows it (e.g. to clients no longer matching the filter). In id-ordered chunks.
 */
export async function closePending(
  mailingId: number,
  status: 'expired' | 'cancelled',
  reason: string,
  where: { sql: string; bindings: object } = { sql: 'true', bindings: {} },
): Promise<number> {
  let closed = 0;
  // Each chunk starts after the last one's messages: pending ones that `where` keeps are not read again.
  let after = 0;
  for (;;) {
    const { rows } = await retryOnConflict(() =>
      knex().raw(
        `WITH target AS (
           SELECT m.id FROM messages m
           WHERE m.mailing_id = :mailingId AND m.status = 'pending' AND m.id > :after AND ${where.sql}
           ORDER BY m.id LIMIT :chunk FOR UPDATE OF m),
         done AS (
           UPDATE messages m SET status = :status, last_error = :reason, settled_at = now(), lease_until = NULL, lease_token = NULL
           FROM target WHERE m.id = target.id AND m.status = 'pending' RETURNING 1)
         SELECT (SELECT count(*) FROM done)::int AS closed, (SELECT max(id) FROM target) AS last`,
        { ...where.bindings, mailingId, status, reason, chunk: CLOSE_CHUNK, after },
      ),
    );
    // Stops past the last pending message, not at a short chunk: rows changed by another writer meanwhile shorten a chunk.
    if (rows[0].last === null) return closed;
    closed += rows[0].closed;
    after = Number(rows[0].last);
  }
}

export interface MessageFilter {
  mailing_id?: number;
  client_id?: number;
  status?: MessageStatus;
}

/** The filter columns of the index a list reads, in its order: the index is (these, id). */
function indexedColumns(filter: MessageFilter): (keyof MessageFilter)[] {
  if (filter.mailing_id !== undefined) return filter.status !== undefined ? ['mailing_id', 'status'] : ['mailing_id'];
  if (filter.client_id !== undefined) return ['client_id'];
  return filter.status !== undefined ? ['status'] : [];
}

/**
 * A page of messages, through the index on the filter's columns and id. Those columns lead the order
 * and are compared with `= ANY` (of one value): with `=`, the planner treats them as constants, sees
 * the primary key giving the same order, and may walk it from the first message of every mailing to
 * reach those of the mailing sending now, the newest (one page: 35,000 buffers and 160-260 ms by
 * EXPLAIN ANALYZE; seconds per request in the benchmark's load). Led by them, the order comes only
 * from their index.
 */
export function messagePage(filter: MessageFilter, page: PageRequest) {
  const leading = indexedColumns(filter);
  const query = MessageRow.knexQuery().select(columns());
  for (const [column, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (leading.includes(column as keyof MessageFilter)) query.whereRaw('?? = ANY(?)', [column, [value]]);
    else query.where(column, value);
  }
  return keysetPage(query, page, leading);
}

export async function listMessages(filter: MessageFilter, page: PageRequest): Promise<Page<Message>> {
  const rows: Record<string, unknown>[] = await messagePage(filter, page);
  return toPage(rows.map(toMessage), page.limit);
}

export async function findMessage(id: number): Promise<Message | undefined> {
  const row: Record<string, unknown> | undefined = await MessageRow.knexQuery().where('id', id).first(columns());
  return row && toMessage(row);
}
