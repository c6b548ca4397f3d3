import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { isUniqueViolation } from '../storage/database';
import * as store from '../storage/clients';
import type { Client, ClientFields, ClientFilter } from '../storage/clients';
import type { Page, PageRequest } from '../storage/page';
import { ConflictError, DomainError, InvalidInputError, MalformedInputError, NotFoundError } from './errors';

export type { Client };

export type ClientInput = Omit<ClientFields, 'mobile_operator_code' | 'tag'> & {
  mobile_operator_code?: string;
  tag?: string | null;
};

/** The operator code is digits 2-4 of the phone: derived when omitted, checked when given. */
function withOperatorCode(input: ClientInput): ClientFields {
  const derived = input.phone_number.slice(1, 4);
  if (input.mobile_operator_code !== undefined && input.mobile_operator_code !== derived) {
    throw new InvalidInputError(
      `mobile_operator_code ${input.mobile_operator_code} does not match phone number ${input.phone_number} (expected ${derived})`,
      'mobile_operator_code',
    );
  }
  return { ...input, mobile_operator_code: derived, tag: input.tag ?? null, timezone: canonicalZone(input.timezone) };
}

/** Spellings seen lately and their canonical ones: resolving a zone costs tens of microseconds, an import resolves one per row. */
const zoneSpellings = new Map<string, string>();

/** Stores zone names as the zone database spells them, whatever case the caller used. */
function canonicalZone(zone: string): string {
  let canonical = zoneSpellings.get(zone);
  if (canonical === undefined) {
    canonical = new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
    if (zoneSpellings.size >= 1000) zoneSpellings.clear(); // bounded, whatever spellings arrive
    zoneSpellings.set(zone, canonical);
  }
  return canonical;
}

async function uniquePhone<T>(write: Promise<T>, phone: string): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isUniqueViolation(error, store.PHONE_UNIQUE)) {
      throw new ConflictError(`a client with phone number ${phone} already exists`, 'phone_number');
    }
    throw error;
  }
}

export async function createClient(input: ClientInput): Promise<Client> {
  const fields = withOperatorCode(input);
  return uniquePhone(store.insertClient(fields), fields.phone_number);
}

export async function getClient(id: number): Promise<Client> {
  const client = await store.findClient(id);
  if (!client) throw new NotFoundError(`client ${id} does not exist`);
  return client;
}

export function listClients(filter: ClientFilter, page: PageRequest): Promise<Page<Client>> {
  return store.listClients(filter, page);
}

export async function replaceClient(id: number, input: ClientInput): Promise<Client> {
  const fields = withOperatorCode(input);
  const client = await uniquePhone(store.updateClient(id, fields), fields.phone_number);
  if (!client) throw new NotFoundError(`client ${id} does not exist`);
  return client;
}

/**
 * Writes only the fields a patch names (a new phone with the operator code it implies), so that
 * patches of other fields at the same moment keep theirs; the whole is checked as `replaceClient` does.
 */
export async function updateClient(id: number, patch: Partial<ClientInput>): Promise<Client> {
  const { id: _, ...current } = await getClient(id);
  const fields = withOperatorCode({ ...current, mobile_operator_code: undefined, ...patch });
  const named: Partial<ClientFields> = {
    ...(patch.phone_number !== undefined && { phone_number: fields.phone_number, mobile_operator_code: fields.mobile_operator_code }),
    ...(patch.tag !== undefined && { tag: fields.tag }),
    ...(patch.timezone !== undefined && { timezone: fields.timezone }),
  };
  const client = await uniquePhone(store.updateClient(id, named), fields.phone_number);
  if (!client) throw new NotFoundError(`client ${id} does not exist`);
  return client;
}

export async function deleteClient(id: number): Promise<void> {
  if (!(await store.deleteClient(id))) throw new NotFoundError(`client ${id} does not exist`);
}

/** An import answer lists at most this many row problems (it counts them all). */
const MAX_IMPORT_ERRORS = 1000;
/** Rows handed to COPY at a time, as one chunk of text. */
const COPY_CHUNK_BYTES = 64 * 1024;

export interface ImportError {
  line: number;
  field: string;
  message: string;
}

export interface ImportResult {
  created: number;
  updated: number;
  rejected: number;
  errors: ImportError[];
}

/**
 * A client as a CSV row, from the contract's `ClientInput`: its fields are the columns of an import and
 * an export (in the export's order), its required fields the columns an import's header must name, and
 * `check` finds a row's problems, or none.
 */
export interface ClientRow {
  columns: readonly string[];
  required: readonly string[];
  check(input: Record<string, string>): { field: string; message: string }[];
}

/** Where each known column is in the file's rows; a header without a required column, or with an unknown or repeated one, refuses the file. */
function readHeader(names: string[], row: ClientRow): [column: string, index: number][] {
  const columns = names.map((name) => name.trim());
  const problems: { field: string; message: string }[] = [];
  for (const column of row.required) {
    if (!columns.includes(column)) problems.push({ field: column, message: 'is a required column, missing from the header row' });
  }
  columns.forEach((column, index) => {
    if (!row.columns.includes(column)) problems.push({ field: column || `column ${index + 1}`, message: `is not a known column (expected ${row.columns.join(', ')})` });
    else if (columns.indexOf(column) !== index) problems.push({ field: column, message: 'is named twice in the header row' });
  });
  if (problems.length) {
    throw new HeaderError(problems);
  }
  return columns.map((column, index) => [column, index]);
}

/** A header that refuses the whole file; each problem names a column. */
class HeaderError extends MalformedInputError {
  constructor(problems: { field: string; message: string }[]) {
    super(`the header row is not that of a client import: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems[0]?.field, problems);
  }
}

/** Passes the bytes on while they are UTF-8, and fails at the first that is not (csv-parse would put U+FFFD in its place). */
function strictUtf8(): Transform {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const checked = (check: () => void, done: TransformCallback, chunk?: Buffer) => {
    try {
      check();
    } catch (error) {
      return done(error as Error);
    }
    done(null, chunk);
  };
  return new Transform({
    transform: (chunk: Buffer, _encoding, done) => checked(() => decoder.decode(chunk, { stream: true }), done, chunk),
    flush: (done) => checked(() => decoder.decode(), done),
  });
}

/** A value in PostgreSQL's COPY text format. Only a tag can hold characters that need escaping. */
function copyValue(value: string | null): string {
  return value === null ? '\\N' : value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}

/**
 * Imports clients from a CSV stream (header row first), row by row: each row is checked as
 * `POST /api/clients/` checks its body (the contract's schema, then the operator code and the zone), the
 * valid ones are upserted by phone number in one transaction, the invalid ones reported by line. Nothing
 * is imported when the stream is not CSV or its header is wrong. The stream is read as it arrives.
 */
export async function importClients(csv: Readable, row: ClientRow): Promise<ImportResult> {
  const errors: ImportError[] = [];
  let rejected = 0;
  let valid = 0;
  const reject = (line: number, problems: { field: string; message: string }[]) => {
    rejected++;
    for (const problem of problems) if (errors.length < MAX_IMPORT_ERRORS) errors.push({ line, ...problem });
  };

  async function* copyRows(): AsyncGenerator<string> {
    // pipeline(): a failure of the body (too large, cut off), even one before this point, ends the parsing with it.
    const parser = pipeline(csv, strictUtf8(), parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }), () => undefined);
    let columns: [string, number][] | undefined;
    let width = 0;
    let chunk = '';
    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        if (!columns) {
          columns = readHeader(record, row);
          width = record.length;
          continue;
        }
        const line = info.lines;
        if (record.length > width) {
          reject(line, [{ field: 'row', message: `has ${record.length} fields, the header row ${width}` }]);
          continue;
        }
        const input: Record<string, string> = {};
        for (const [column, index] of columns) if (record[index]) input[column] = record[index];
        const problems = row.check(input);
        if (problems.length) {
          reject(line, problems);
          continue;
        }
        let fields: ClientFields;
        try {
          fields = withOperatorCode(input as ClientInput);
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          reject(line, [{ field: error.field ?? 'row', message: error.message }]);
          continue;
        }
        valid++;
        chunk += `${line}\t${fields.phone_number}\t${fields.mobile_operator_code}\t${copyValue(fields.tag)}\t${fields.timezone}\n`;
        if (chunk.length >= COPY_CHUNK_BYTES) {
          yield chunk;
          chunk = '';
        }
      }
    } catch (error) {
      if (error instanceof CsvError) throw new MalformedInputError(`the body is not CSV: ${error.message}`, 'body');
      if ((error as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') throw new MalformedInputError('the body is not UTF-8 text', 'body');
      throw error;
    }
    if (!columns) throw new HeaderError(row.required.map((field) => ({ field, message: 'is a required column; the body has no header row' })));
    if (chunk) yield chunk;
  }

  const { created } = await store.upsertClientsFromCopy(copyRows());
  return { created, updated: valid - created, rejected, errors };
}

/** Every client as CSV, header row first, in id order; the columns an import reads. */
export function exportClients(row: Pick<ClientRow, 'columns'>): Readable {
  return store.clientsCsv(row.columns);
}
