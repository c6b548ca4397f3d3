import type { DataProvider, GetListParams, GetManyParams, GetManyReferenceParams, RaRecord } from 'react-admin';
import type { AudiencePreview, ClientImportResult, MailingFilter, MailingInfo, MailingStatus, MailingSummaryPage, Mailing, Page, SendWindow } from './api-types';
import { FormFields, request } from './http';

/** The inputs of each resource's form, so that the API's field errors are shown next to them. */
const FORM_FIELDS: Record<string, FormFields> = {
  clients: ['phone_number', 'mobile_operator_code', 'tag', 'timezone'],
  mailings: ['text', 'start_at', 'end_at', 'filter.tag', 'filter.mobile_operator_code', 'send_window.from', 'send_window.to'],
};

/** Filters each list of the API takes as query parameters. */
const LIST_FILTERS: Record<string, string[]> = {
  clients: ['tag', 'mobile_operator_code'],
  mailings: ['status'],
  messages: ['mailing_id', 'client_id', 'status'],
};

/** Fields that are never sent back (read-only in the API). */
const READ_ONLY = ['id', 'status'];

const collection = (resource: string) => `/api/${resource}/`;
const item = (resource: string, id: RaRecord['id']) => `/api/${resource}/${encodeURIComponent(String(id))}/`;

function query(params: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  return search.toString();
}

/**
 * The API pages by cursor, react-admin by page number. For each list (its filters and page size) this
 * remembers the cursor that starts each page seen so far: page n+1 starts at page n's `next_cursor`.
 * Cursors are ids, so they stay valid while rows are added or removed. A page further than any seen
 * (a bookmarked ?page=5) is reached by walking the pages before it; nothing is skipped or counted with
 * OFFSET, so no total is known and the pager offers previous / next only.
 */
const pageStarts = new Map<string, (string | undefined)[]>();

async function keysetPage<T>(path: string, filter: Record<string, unknown>, page: number, perPage: number): Promise<{ items: T[]; hasNext: boolean }> {
  const key = `${path}?${query(filter)}&limit=${perPage}`;
  const starts = pageStarts.get(key) ?? [undefined];
  pageStarts.set(key, starts);
  let index = Math.min(page - 1, starts.length - 1);
  for (;;) {
    const result = await request<Page<T>>(`${path}?${query({ ...filter, limit: perPage, cursor: starts[index] })}`);
    if (result.next_cursor !== null) starts[index + 1] = result.next_cursor;
    else starts.length = index + 1;
    if (index === page - 1) return { items: result.items, hasNext: result.next_cursor !== null };
    if (result.next_cursor === null) return { items: [], hasNext: false };
    index++;
  }
}

/** The list's filters the API knows, and its order: the API sorts by id only, either way. */
function listQuery(resource: string, params: Pick<GetListParams, 'filter' | 'sort'>): Record<string, unknown> {
  const allowed = LIST_FILTERS[resource] ?? [];
  const filters = Object.entries(params.filter ?? {}).filter(([key]) => allowed.includes(key));
  return { ...Object.fromEntries(filters), order: params.sort?.field === 'id' && params.sort.order === 'ASC' ? 'asc' : 'desc' };
}

/** A PATCH of what the form changed: untouched fields are not sent (a running mailing refuses a start_at). */
function changes(data: Record<string, unknown>, previous: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(data).filter(([key, value]) => !READ_ONLY.includes(key) && key in previous && JSON.stringify(value) !== JSON.stringify(previous[key])),
  );
}

const writable = (data: Record<string, unknown>) => Object.fromEntries(Object.entries(data).filter(([key]) => !READ_ONLY.includes(key)));

export interface MailingsApi {
  preview(filter: MailingFilter, sendWindow?: SendWindow): Promise<AudiencePreview>;
  pause(id: number): Promise<Mailing>;
  resume(id: number): Promise<Mailing>;
  mailingInfo(id: number): Promise<MailingInfo>;
  /** Mailings with their counts, the newest first, and the totals of every mailing. */
  summary(status?: MailingStatus, limit?: number): Promise<MailingSummaryPage>;
  mailingsIn(status: MailingStatus, limit: number): Promise<Page<Mailing>>;
  importClients(file: File): Promise<ClientImportResult>;
}

export type AppDataProvider = DataProvider & MailingsApi;

export const dataProvider: AppDataProvider = {
  async getList<R extends RaRecord>(resource: string, params: GetListParams) {
    const { page = 1, perPage = 25 } = params.pagination ?? {};
    const { items, hasNext } = await keysetPage<R>(collection(resource), listQuery(resource, params), page, perPage);
    return { data: items, pageInfo: { hasNextPage: hasNext, hasPreviousPage: page > 1 } };
  },

  async getOne(resource, params) {
    return { data: await request(item(resource, params.id)) };
  },

  /** One request per record; a record deleted meanwhile (a message's client) is left out. */
  async getMany<R extends RaRecord>(resource: string, params: GetManyParams) {
    const results = await Promise.allSettled(params.ids.map((id) => request<R>(item(resource, id))));
    return { data: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])) };
  },

  async getManyReference<R extends RaRecord>(resource: string, params: GetManyReferenceParams) {
    const filter = { ...params.filter, [params.target]: params.id };
    const { page = 1, perPage = 25 } = params.pagination ?? {};
    const { items, hasNext } = await keysetPage<R>(collection(resource), listQuery(resource, { ...params, filter }), page, perPage);
    return { data: items, pageInfo: { hasNextPage: hasNext, hasPreviousPage: page > 1 } };
  },

  async create(resource, params) {
    const data = await request<RaRecord>(collection(resource), { method: 'POST', json: writable(params.data) }, FORM_FIELDS[resource]);
    return { data } as never;
  },

  async update(resource, params) {
    const patch = changes(params.data, params.previousData);
    if (Object.keys(patch).length === 0) return { data: params.previousData };
    return { data: await request(item(resource, params.id), { method: 'PATCH', json: patch }, FORM_FIELDS[resource]) };
  },

  async updateMany() {
    throw new Error('not offered: records are edited one at a time');
  },

  async delete(resource, params) {
    await request(item(resource, params.id), { method: 'DELETE' });
    return { data: params.previousData ?? ({ id: params.id } as never) };
  },

  async deleteMany(resource, params) {
    for (const id of params.ids) await request(item(resource, id), { method: 'DELETE' });
    return { data: params.ids };
  },

  preview: (filter, sendWindow) =>
    request('/api/mailings/preview/', { method: 'POST', json: { filter, ...(sendWindow && { send_window: sendWindow }) } }, ['filter.tag', 'filter.mobile_operator_code']),
  pause: (id) => request(`${item('mailings', id)}pause/`, { method: 'POST' }),
  resume: (id) => request(`${item('mailings', id)}resume/`, { method: 'POST' }),
  mailingInfo: (id) => request(`${item('mailings', id)}info/?limit=1`),
  summary: (status, limit = 100) => request(`/api/mailings/fullinfo/?${query({ status, limit, order: 'desc' })}`),
  mailingsIn: (status, limit) => request(`/api/mailings/?${query({ status, limit })}`),
  importClients: (file) => request('/api/clients/import/', { method: 'POST', body: file, contentType: 'text/csv' }),
};
