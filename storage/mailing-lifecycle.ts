import { retryOnConflict } from './database';
import { mailingColumns, MailingRow, toMailing, type Mailing, type MailingFields } from './mailings';
import { countsByMailing, foldCounts } from './mailing-counts';
import * as messages from './messages';

/**
 * The mailing state machine. Every status change is a compare-and-set in one SQL statement that checks
 * the current status and `deleted_at`, so no writer overwrites a state it did not see. PostgreSQL's
 * clock (`now()`) is the one clock that decides whether a mailing may start or send.
 *
 *   scheduled ─start─▶ running ─finish─▶ finished
 *       │                 └────expire──▶ expired
 *       ├──miss (end passed before it could start)──▶ expired
 *   scheduled/running ─pause─▶ paused ─resume─▶ back where it was; ─expire─▶ expired at the end
 *   scheduled/running/paused ─cancel (after deletion)─▶ cancelled
 */
const LIFECYCLE_STATUSES = ['scheduled', 'running', 'paused', 'finished', 'expired', 'cancelled'] as const;
export type LifecycleStatus = (typeof LIFECYCLE_STATUSES)[number];

export type FinalStatus = 'finished' | 'expired' | 'cancelled';
export const FINAL_STATUSES: readonly LifecycleStatus[] = ['finished', 'expired', 'cancelled'];

/** Statuses in which an operator may edit a mailing; what each allows is decided by the domain. */
export const EDITABLE_STATUSES: readonly LifecycleStatus[] = ['scheduled', 'running', 'paused'];

// `to` is an SQL expression: a resumed mailing goes back to where it was.
const TRANSITIONS = {
  start: { from: ['scheduled'], to: "'running'", guard: 'deleted_at IS NULL AND start_at <= now() AND end_at > now()' },
  miss: { from: ['scheduled'], to: "'expired'", guard: 'deleted_at IS NULL AND end_at <= now()' },
  // Finished only once the whole audience is recorded: an edit may have re-opened it.
  finish: { from: ['running'], to: "'finished'", guard: 'deleted_at IS NULL AND audience_done' },
  expire: { from: ['running', 'paused'], to: "'expired'", guard: 'deleted_at IS NULL' },
  pause: { from: ['scheduled', 'running'], to: "'paused'", guard: 'deleted_at IS NULL' },
  resume: { from: ['paused'], to: "CASE WHEN started_at IS NULL THEN 'scheduled' ELSE 'running' END", guard: 'deleted_at IS NULL' },
  cancel: { from: ['scheduled', 'running', 'paused'], to: "'cancelled'", guard: 'deleted_at IS NOT NULL' },
} as const;

type Transition = keyof typeof TRANSITIONS;

const knex = () => MailingRow.knex();

/**
 * Applies one transition if the mailing is in a state that allows it; answers the status it left (as
 * the row was when locked, not as read before), undefined when it did not apply.
 */
async function transitionFrom(id: number, name: Transition): Promise<LifecycleStatus | undefined> {
  const { from, to, guard } = TRANSITIONS[name];
  const result = await knex().raw(
    `WITH before AS (SELECT id, status AS was FROM mailings WHERE id = :id FOR NO KEY UPDATE)
     UPDATE mailings SET status = ${to}, updated_at = now(), started_at = CASE WHEN :name = 'start' THEN now() ELSE started_at END
     FROM before WHERE mailings.id = before.id AND status = ANY(:from::text[]) AND ${guard}
     RETURNING before.was`,
    { id, name, from: [...from] },
  );
  return result.rows[0]?.was;
}

const transition = async (id: number, name: Transition) => (await transitionFrom(id, name)) !== undefined;

/** An operator's pause: answers the status it paused (scheduled or running), undefined when the status does not allow it. */
export const pause = (id: number) => transitionFrom(id, 'pause');
/** Whether a mailing was started (its start claimed) before it stood where it is now: a paused one may have been or not. */
export async function hasStarted(id: number): Promise<boolean> {
  const row = await knex()('mailings').where({ id }).first(knex().raw('started_at IS NOT NULL AS started'));
  return row?.started === true;
}

/** An operator's resume; false when the mailing is not paused. */
export const resume = (id: number) => transition(id, 'resume');

export type StartClaim = { result: 'started' } | { result: 'early'; waitMs: number } | { result: 'missed' } | { result: 'gone' };

/**
 * Claims the start before anything is recorded: from here on the mailing is `running`, and an edit of
 * `start_at` is refused. Repeating it after it succeeded answers `started` again.
 */
export async function claimStart(id: number): Promise<StartClaim> {
  if (await transition(id, 'start')) return { result: 'started' };
  if (await transition(id, 'miss')) return { result: 'missed' };
  const row = (
    await knex().raw(`SELECT status, deleted_at IS NOT NULL AS deleted, ceil(extract(epoch FROM start_at - now()) * 1000) AS wait_ms FROM mailings WHERE id = ?`, [id])
  ).rows[0];
  if (!row || row.deleted) return { result: 'gone' };
  if (row.status === 'running') return { result: 'started' };
  if (row.status === 'scheduled') return { result: 'early', waitMs: Math.max(1, Number(row.wait_ms)) };
  return { result: 'gone' };
}

export interface Deletion {
  status: LifecycleStatus;
  /** It had been deleted before this call. */
  wasDeleted: boolean;
}

/** Marks a mailing deleted (once); its messages are closed by `closeDeleted` once sending has stopped. */
export async function markDeleted(id: number): Promise<Deletion | undefined> {
  const result = await knex().raw(
    `WITH before AS (SELECT id, deleted_at FROM mailings WHERE id = :id FOR NO KEY UPDATE)
     UPDATE mailings m SET deleted_at = coalesce(b.deleted_at, now()) FROM before b WHERE m.id = b.id
     RETURNING m.status, b.deleted_at IS NOT NULL AS was_deleted`,
    { id },
  );
  const row = result.rows[0];
  return row && { status: row.status, wasDeleted: row.was_deleted };
}

/** A deleted mailing's unsent messages are cancelled and the mailing becomes `cancelled` (unless it had ended). */
export async function closeDeleted(id: number): Promise<number> {
  const cancelled = await messages.closePending(id, 'cancelled', 'the mailing was deleted');
  await transition(id, 'cancel');
  await foldCounts(id);
  return cancelled;
}

/** How a run ended, and the messages it closed on the way. */
export interface RunEnd {
  status: LifecycleStatus;
  expired: number;
  cancelled: number;
}

/**
 * Ends a running mailing: at the end time its pending messages expire. A mailing deleted meanwhile is
 * closed as deleted instead. Not final when it may not end yet: an edit re-opened its audience, or it
 * was paused.
 */
export async function finishRun(id: number, reachedEnd: boolean): Promise<RunEnd> {
  const ended = (status: LifecycleStatus, cancelled = 0, expired = 0): RunEnd => ({ status, expired, cancelled });
  const counts = (await countsByMailing([id])).get(id)!;
  const unsent = counts.expired > 0 || (reachedEnd && counts.pending > 0);
  if (!unsent && (await transition(id, 'finish'))) {
    await foldCounts(id);
    return ended('finished');
  }
  if ((reachedEnd || counts.expired > 0) && (await transition(id, 'expire'))) {
    // Expired first, then closed: an audience chunk records only while the mailing is running (under
    // its row's lock), so no message it adds can come after the close and stay pending for ever.
    const expired = reachedEnd ? await messages.closePending(id, 'expired', 'the mailing ended before the message could be sent') : 0;
    await foldCounts(id);
    return ended('expired', 0, expired);
  }
  const row = await MailingRow.query().findById(id).select('status', 'deleted_at');
  if (!row) return ended('cancelled');
  if (row.deleted_at === null) return ended(row.status as LifecycleStatus);
  const cancelled = await closeDeleted(id);
  return ended((await MailingRow.query().findById(id).select('status'))!.status as FinalStatus, cancelled);
}

/**
 * Saves an edit only if the mailing is still in the status the caller saw (and not deleted). A new
 * filter on a mailing that has started (running, or paused since) restarts the audience recording,
 * which then adds newly matching clients and cancels the pending messages of those no longer matching;
 * a paused one does so once resumed. With `seenFields` (a patch merged into them), only if no other
 * edit changed them meanwhile either.
 */
export async function applyEdit(id: number, fields: MailingFields, seen: LifecycleStatus, seenFields?: Mailing): Promise<Mailing | undefined> {
  const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
  return retryOnConflict(async () => {
    const result = await knex().raw(
      `UPDATE mailings SET start_at = :start_at, end_at = :end_at, text = :text, filter = :filter::jsonb,
         send_window = :send_window::jsonb, updated_at = now(),
         audience_cursor = CASE WHEN started_at IS NOT NULL AND filter <> :filter::jsonb THEN 0 ELSE audience_cursor END,
         audience_done = CASE WHEN started_at IS NOT NULL AND filter <> :filter::jsonb THEN false ELSE audience_done END
       WHERE id = :id AND status = :seen AND deleted_at IS NULL
         AND (NOT :checkFields::boolean OR (
           date_trunc('milliseconds', start_at) = :seenStartAt::timestamptz AND date_trunc('milliseconds', end_at) = :seenEndAt::timestamptz
           AND text = :seenText AND filter = :seenFilter::jsonb AND send_window IS NOT DISTINCT FROM :seenSendWindow::jsonb))
       RETURNING :columns`,
      {
        id,
        seen,
        columns: mailingColumns(),
        ...fields,
        filter: JSON.stringify(fields.filter),
        send_window: json(fields.send_window),
        checkFields: seenFields !== undefined,
        seenStartAt: seenFields?.start_at ?? null,
        seenEndAt: seenFields?.end_at ?? null,
        seenText: seenFields?.text ?? null,
        seenFilter: json(seenFields?.filter),
        seenSendWindow: json(seenFields?.send_window),
      },
    );
    const row = result.rows[0];
    return row && toMailing(row);
  });
}

/** The statuses of mailings that are not deleted (a deleted one ends `cancelled` unless it had ended). */
const LIVE_STATUSES = LIFECYCLE_STATUSES.filter((status) => status !== 'cancelled');

/**
 * How many mailings the API shows (not deleted) are in each status: one pass over the mailings, a row
 * per mailing, not per message (about 40 ms for 100,000).
 */
export async function countByStatus(): Promise<Record<string, number>> {
  const { rows } = await knex().raw('SELECT status, count(*)::int AS count FROM mailings WHERE deleted_at IS NULL GROUP BY status');
  const counts: Record<string, number> = Object.fromEntries(LIVE_STATUSES.map((status) => [status, 0]));
  for (const row of rows as { status: string; count: number }[]) counts[row.status] = row.count;
  return counts;
}

/** Mailings not final yet, deleted or not, after `afterId`: the reconciler makes sure each has a running workflow. */
export async function openMailingIds(limit: number, afterId = 0): Promise<number[]> {
  const rows = await MailingRow.query().select('id').whereIn('status', ['scheduled', 'running', 'paused']).where('id', '>', afterId).orderBy('id').limit(limit);
  return rows.map((r) => Number(r.id));
}
