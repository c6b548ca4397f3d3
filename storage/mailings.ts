import { Model } from 'objection';
import type { components } from '../api/schema';
import { afterId, Page, PageRequest, toPage } from './page';

export type Mailing = components['schemas']['Mailing'];
export type MailingStatus = Mailing['status'];

/** The filter as stored: every present key holds a list, and a client must match one value of each. */
export interface AudienceFilter {
  mobile_operator_code?: string[];
  tag?: string[];
}

export interface MailingFields {
  start_at: string;
  end_at: string;
  text: string;
  filter: AudienceFilter;
}

export class MailingRow extends Model {
  static tableName = 'mailings';
  id!: number;
  start_at!: Date;
  end_at!: Date;
  text!: string;
  filter!: AudienceFilter;
  status!: MailingStatus;
  workflow_started!: boolean;
  deleted_at!: Date | null;
}

const columns = ['id', 'start_at', 'end_at', 'text', 'filter', 'status'];

export function toMailing(row: MailingRow): Mailing {
  return {
    id: Number(row.id),
    start_at: row.start_at.toISOString(),
    end_at: row.end_at.toISOString(),
    text: row.text,
    filter: row.filter,
    status: row.status,
  };
}

const live = () => MailingRow.query().whereNull('deleted_at');

export async function insertMailing(fields: MailingFields): Promise<Mailing> {
  const row = await MailingRow.query().insert(fields as unknown as Partial<MailingRow>).returning(columns);
  return toMailing(row);
}

export async function findMailing(id: number): Promise<Mailing | undefined> {
  const row = await live().findById(id).select(columns);
  return row && toMailing(row);
}

export async function listMailings(page: PageRequest): Promise<Page<Mailing>> {
  const rows = await live().select(columns).where('id', '>', afterId(page)).orderBy('id').limit(page.limit + 1);
  return toPage(rows.map(toMailing), page.limit);
}

/** Writes new fields only while the mailing is in one of `statuses`; a concurrent status change wins. */
export async function updateMailing(id: number, fields: MailingFields, statuses: MailingStatus[]): Promise<Mailing | undefined> {
  const [row] = await live()
    .patch({ ...fields, updated_at: new Date() } as unknown as Partial<MailingRow>)
    .where('id', id)
    .whereIn('status', statuses)
    .returning(columns);
  return row && toMailing(row as unknown as MailingRow);
}

export async function setMailingStatus(id: number, status: MailingStatus): Promise<void> {
  await MailingRow.query().patch({ status, updated_at: new Date() } as Partial<MailingRow>).where('id', id);
}

export async function markWorkflowStarted(id: number): Promise<void> {
  await MailingRow.query().patch({ workflow_started: true }).where('id', id);
}

/** Mailings whose workflow Temporal has not yet accepted (served by a partial index). */
export async function unstartedMailingIds(limit: number): Promise<number[]> {
  const rows = await live().select('id').where('workflow_started', false).orderBy('id').limit(limit);
  return rows.map((r) => Number(r.id));
}

/** What the workflow needs to know about its mailing, read fresh each time it wakes. */
export interface MailingSchedule {
  startAt: string;
  endAt: string;
  deleted: boolean;
}

export async function readSchedule(id: number): Promise<MailingSchedule | undefined> {
  const row = await MailingRow.query().findById(id).select('start_at', 'end_at', 'deleted_at');
  return row && { startAt: row.start_at.toISOString(), endAt: row.end_at.toISOString(), deleted: row.deleted_at !== null };
}

export async function softDeleteMailing(id: number, trx: Parameters<typeof MailingRow.query>[0]): Promise<boolean> {
  const count = await MailingRow.query(trx).patch({ deleted_at: new Date() } as Partial<MailingRow>).where('id', id).whereNull('deleted_at');
  return count > 0;
}

/** What a send batch needs of its mailing; read at every claim so that edits apply to unsent messages. */
export interface SendingTerms {
  text: string;
  endAt: Date;
  filter: AudienceFilter;
  deleted: boolean;
}

export async function readSendingTerms(id: number): Promise<SendingTerms | undefined> {
  const row = await MailingRow.query().findById(id).select('text', 'end_at', 'filter', 'deleted_at');
  return row && { text: row.text, endAt: row.end_at, filter: row.filter, deleted: row.deleted_at !== null };
}
