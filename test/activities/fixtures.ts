import { randomInt, randomUUID } from 'node:crypto';
import type { Database } from '../../storage/database';

/** Rows for the activity tests, written straight with knex; unique phones and tags keep tests apart. */

export const randomPhone = () => `7${String(randomInt(0, 1e10)).padStart(10, '0')}`;
export const uniqueTag = () => `t-${randomUUID().slice(0, 12)}`;

export async function insertClients(db: Database, count: number, fields: { tag?: string; mobile_operator_code?: string; timezone?: string } = {}): Promise<number[]> {
  if (count === 0) return [];
  const rows = Array.from({ length: count }, () => ({
    phone_number: randomPhone(),
    mobile_operator_code: fields.mobile_operator_code ?? '900',
    tag: fields.tag ?? null,
    timezone: fields.timezone ?? 'Europe/Moscow',
  }));
  const inserted: { id: string }[] = await db('clients').insert(rows).returning('id');
  return inserted.map((r) => Number(r.id));
}

export interface MailingRowFields {
  startAt?: Date;
  endAt?: Date;
  text?: string;
  filter?: object;
  status?: string;
  /** When it started: by default its start for a running mailing (as the start transition sets it), none otherwise. */
  startedAt?: Date | null;
  deletedAt?: Date | null;
  audienceDone?: boolean;
  sendWindow?: { from: string; to: string };
}

export async function insertMailing(db: Database, fields: MailingRowFields = {}): Promise<number> {
  const startAt = fields.startAt ?? new Date(Date.now() - 60_000);
  const status = fields.status ?? 'running';
  const [row] = await db('mailings')
    .insert({
      start_at: startAt,
      end_at: fields.endAt ?? new Date(Date.now() + 3_600_000),
      text: fields.text ?? 'hello from the activity tests',
      filter: JSON.stringify(fields.filter ?? {}),
      status,
      started_at: fields.startedAt !== undefined ? fields.startedAt : status === 'running' ? startAt : null,
      deleted_at: fields.deletedAt ?? null,
      audience_done: fields.audienceDone ?? true,
      send_window: fields.sendWindow ? JSON.stringify(fields.sendWindow) : null,
    })
    .returning('id');
  return Number(row.id);
}

/** One pending message per client, to the client's phone, due at `dueAt` (default: already due). */
export async function insertMessages(db: Database, mailingId: number, clientIds: number[], dueAt = new Date(Date.now() - 1000)): Promise<number[]> {
  if (clientIds.length === 0) return [];
  const { rows } = await db.raw(
    `INSERT INTO messages (mailing_id, client_id, phone, due_at)
     SELECT ?, c.id, c.phone_number, ? FROM unnest(?::bigint[]) WITH ORDINALITY AS given(id, position) JOIN clients c ON c.id = given.id
     ORDER BY given.position RETURNING id`,
    [mailingId, dueAt, clientIds],
  );
  return rows.map((r: { id: string }) => Number(r.id));
}

/** A mailing with `count` due messages, each to its own new client. */
export async function mailingWithDueMessages(db: Database, count: number, fields: MailingRowFields = {}) {
  const mailingId = await insertMailing(db, fields);
  const clientIds = await insertClients(db, count);
  const messageIds = await insertMessages(db, mailingId, clientIds);
  return { mailingId, clientIds, messageIds };
}

export interface MessageState {
  id: number;
  status: string;
  attempts: number;
  last_error: string | null;
  due_at: Date;
  sent_at: Date | null;
  lease_until: Date | null;
}

export async function messageStates(db: Database, mailingId: number): Promise<MessageState[]> {
  const rows = await db('messages')
    .where({ mailing_id: mailingId })
    .orderBy('id')
    .select('id', 'status', 'attempts', 'last_error', 'due_at', 'sent_at', 'lease_until');
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}
