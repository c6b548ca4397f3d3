import { isUniqueViolation } from '../storage/database';
import * as store from '../storage/clients';
import type { Client, ClientFields, ClientFilter } from '../storage/clients';
import type { Page, PageRequest } from '../storage/page';
import { ConflictError, InvalidInputError, NotFoundError } from './errors';

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

/** Stores zone names as the zone database spells them, whatever case the caller used. */
function canonicalZone(zone: string): string {
  return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
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

/** A patch that changes the phone re-derives the operator code unless the patch gives a matching one. */
export async function updateClient(id: number, patch: Partial<ClientInput>): Promise<Client> {
  const { id: _, ...current } = await getClient(id);
  const phoneChanged = patch.phone_number !== undefined && patch.phone_number !== current.phone_number;
  const merged: ClientInput = {
    ...current,
    mobile_operator_code: phoneChanged ? undefined : current.mobile_operator_code,
    ...patch,
  };
  return replaceClient(id, merged);
}

export async function deleteClient(id: number): Promise<void> {
  if (!(await store.deleteClient(id))) throw new NotFoundError(`client ${id} does not exist`);
}
