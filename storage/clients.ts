import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Model } from 'objection';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { components } from '../contract/schema';
import { keysetPage, Page, PageRequest, toPage } from './page';

export type Client = components['schemas']['Client'];
export type ClientFields = Omit<Client, 'id'>;

class ClientRow extends Model {
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

/**
 * A page of clients in id order, through the index of the filter's columns and id. Those columns lead
 * the order and are compared with `= ANY` (of one value), as in messagePage: with `=`, the planner
 * sees the primary key giving the same order and walks it, reading every client when few match (a
 * rare tag and operator code together: 570–1,050 ms a page at 1,000,000 clients).
 */
export function clientPage(filter: ClientFilter, page: PageRequest) {
  // Plain rows, not models: a page is read often and each model costs more than its row.
  const query = ClientRow.knexQuery().select(columns);
  const leading = (['tag', 'mobile_operator_code'] as const).filter((column) => filter[column] !== undefined);
  for (const column of leading) query.whereRaw('?? = ANY(?)', [column, [filter[column]!]]);
  return keysetPage(query, page, [...leading]);
}

export async function listClients(filter: ClientFilter, page: PageRequest): Promise<Page<Client>> {
  return toPage((await clientPage(filter, page)).map(toClient), page.limit);
}

export async function updateClient(id: number, fields: Partial<ClientFields>): Promise<Client | undefined> {
  const [row] = await ClientRow.query()
    .patch({ ...fields, updated_at: new Date() } as Partial<ClientRow>)
    .where('id', id)
    .returning(columns as unknown as string[]);
  return row && toClient(row as unknown as ClientRow);
}

export async function deleteClient(id: number): Promise<boolean> {
  return (await ClientRow.query().deleteById(id)) > 0;
}

/** Marks a pooled connection as broken: the pool destroys it instead of lending it again (knex's own flag). */
function discard(connection: PoolClient, reason: string): void {
  (connection as PoolClient & { __knex__disposed?: string }).__knex__disposed = reason;
}

/**
 * Upserts clients by phone number from rows in COPY text format (`line, phone_number,
 * mobile_operator_code, tag, timezone`), in one transaction: the rows go through COPY into a temporary
 * table, then one statement inserts the new phones and updates the known ones (a phone given twice takes
 * its last row). Fails, importing nothing, when the rows' source fails. `created` counts the inserted
 * clients; an update that would change nothing writes nothing.
 */
export async function upsertClientsFromCopy(rows: AsyncIterable<string>): Promise<{ created: number }> {
  const knex = ClientRow.knex();
  const connection: PoolClient = await knex.client.acquireConnection();
  let healthy = true;
  try {
    await connection.query('BEGIN');
    try {
      await connection.query(
        `CREATE TEMPORARY TABLE client_import (line integer NOT NULL, phone_number text NOT NULL,
           mobile_operator_code text NOT NULL, tag text, timezone text NOT NULL) ON COMMIT DROP`,
      );
      await pipeline(Readable.from(rows), connection.query(copyFrom('COPY client_import FROM STDIN')));
      // Counted in the statement: a row per client back to this process was 117 MB more at 1,400,000 rows.
      const result = await connection.query(
        `WITH upserted AS (
           INSERT INTO clients AS c (phone_number, mobile_operator_code, tag, timezone)
           SELECT DISTINCT ON (phone_number) phone_number, mobile_operator_code, tag, timezone
           FROM client_import ORDER BY phone_number, line DESC
           ON CONFLICT (phone_number) DO UPDATE
             SET mobile_operator_code = EXCLUDED.mobile_operator_code, tag = EXCLUDED.tag, timezone = EXCLUDED.timezone, updated_at = now()
             WHERE (c.mobile_operator_code, c.tag, c.timezone) IS DISTINCT FROM (EXCLUDED.mobile_operator_code, EXCLUDED.tag, EXCLUDED.timezone)
           RETURNING (xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted)::int AS created FROM upserted`,
      );
      await connection.query('COMMIT');
      return { created: result.rows[0].created };
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => (healthy = false));
      throw error;
    }
  } finally {
    // A connection whose rollback failed is in no known state: the pool drops it rather than lend it again.
    if (!healthy) discard(connection, 'a client import could not roll back');
    await knex.client.releaseConnection(connection);
  }
}

// Clients per statement of an export: each page is read whole (about half a megabyte) on a connection
// that then goes back to the pool.
const EXPORT_PAGE = 10_000;

/**
 * Every client as CSV with a header row, in id order, page by page as the reader takes them: a reader
 * that stops reading holds no connection of the pool (one export held one for as long as its
 * download lasted, and a few stalled downloads left the API none). Each page is written by COPY;
 * a client added behind a page already read is not in the export.
 */
export function clientsCsv(columns: readonly string[], pageSize = EXPORT_PAGE): Readable {
  const knex = ClientRow.knex();
  const list = columns.map((column) => `"${column}"`).join(', ');
  async function* pages(): AsyncGenerator<Buffer> {
    let after = 0;
    for (let first = true; ; first = false) {
      const { rows } = await knex.raw('SELECT max(id) AS last FROM (SELECT id FROM clients WHERE id > ? ORDER BY id LIMIT ?) page', [after, pageSize]);
      if (rows[0].last === null && !first) return;
      const last = rows[0].last === null ? after : Number(rows[0].last);
      // The bounds are numbers this function made, not input.
      yield await copyOut(`COPY (SELECT ${list} FROM clients WHERE id > ${after} AND id <= ${last} ORDER BY id) TO STDOUT WITH (FORMAT csv${first ? ', HEADER' : ''})`);
      if (rows[0].last === null) return;
      after = last;
    }
  }
  return Readable.from(pages(), { objectMode: false });
}

/** The whole output of one COPY ... TO STDOUT, on a connection held only while it runs. */
async function copyOut(statement: string): Promise<Buffer> {
  const knex = ClientRow.knex();
  const connection: PoolClient = await knex.client.acquireConnection();
  const chunks: Buffer[] = [];
  try {
    await pipeline(connection.query(copyTo(statement)), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) chunks.push(chunk);
    });
  } catch (error) {
    discard(connection, 'a client export page failed');
    throw error;
  } finally {
    await knex.client.releaseConnection(connection);
  }
  return Buffer.concat(chunks);
}
