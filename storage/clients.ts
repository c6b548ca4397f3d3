import { Model } from 'objection';
import type { components } from '../api/schema';
import { afterId, Page, PageRequest, toPage } from './page';

export type Client = components['schemas']['Client'];
export type ClientFields = Omit<Client, 'id'>;

export class ClientRow extends Model {
  static tableName = 'clients';
  id!: number;
  phone_number!: string;
  mobile_operator_code!: string;
  tag!: string | null;
  timezone!: string;
}

const columns = ['id', 'phone_number', 'mobile_operator_code', 'tag', 'timezone'] as const;

// bigint ids come back from pg as strings; the API's ids are JSON numbers.
function toClient(row: ClientRow): Client {
  return {
    id: Number(row.id),
    phone_number: row.phone_number,
    mobile_operator_code: row.mobile_operator_code,
    tag: row.tag,
    timezone: row.timezone,
  };
}

export const PHONE_UNIQUE = 'clients_phone_number_unique';

export async function insertClient(fields: ClientFields): Promise<Client> {
  const row = await ClientRow.query().insert(fields).returning(columns as unknown as string[]);
  return toClient(row);
}

export async function findClient(id: number): Promise<Client | undefined> {
  const row = await ClientRow.query().findById(id).select(columns);
  return row && toClient(row);
}

export interface ClientFilter {
  tag?: string;
  mobile_operator_code?: string;
}

export async function listClients(filter: ClientFilter, page: PageRequest): Promise<Page<Client>> {
  const query = ClientRow.query()
    .select(columns)
    .where('id', '>', afterId(page))
    .orderBy('id')
    .limit(page.limit + 1);
  if (filter.tag !== undefined) query.where('tag', filter.tag);
  if (filter.mobile_operator_code !== undefined) query.where('mobile_operator_code', filter.mobile_operator_code);
  return toPage((await query).map(toClient), page.limit);
}

export async function updateClient(id: number, fields: ClientFields): Promise<Client | undefined> {
  const [row] = await ClientRow.query()
    .patch({ ...fields, updated_at: new Date() } as Partial<ClientRow>)
    .where('id', id)
    .returning(columns as unknown as string[]);
  return row && toClient(row as unknown as ClientRow);
}

export async function deleteClient(id: number): Promise<boolean> {
  return (await ClientRow.query().deleteById(id)) > 0;
}
