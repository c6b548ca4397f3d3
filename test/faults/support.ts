import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type { FakeProvider, ReceivedRequest } from '../../stack/fake-provider';
import type { Database } from '../../storage/database';
import type { Api } from '../support/api';
import { eventually } from '../support/eventually';

export const SECOND = 1000;

/** Adds `count` clients with one tag straight into the database (the API is not under test here). */
export async function seedAudience(api: Api, tag: string, count: number): Promise<string[]> {
  const phones = Array.from({ length: count }, () => `79${String(randomInt(0, 1e9)).padStart(9, '0')}`);
  const rows = phones.map((phone) => ({ phone_number: phone, mobile_operator_code: phone.slice(1, 4), tag, timezone: 'UTC' }));
  await api.db('clients').insert(rows).onConflict('phone_number').ignore();
  return phones;
}

export async function createMailing(api: Api, tag: string, endInMs = 3_600 * SECOND): Promise<{ id: number; endAt: number }> {
  const endAt = Date.now() + endInMs;
  const res = await api.post('/api/mailings/', { start_at: new Date().toISOString(), end_at: new Date(endAt).toISOString(), text: `faults ${tag}`, filter: { tag } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id, endAt };
}

export function settled(api: Api, id: number, timeoutMs?: number): Promise<string> {
  return eventually(async () => {
    const { status } = (await api.get(`/api/mailings/${id}/`)).body;
    return status === 'finished' || status === 'expired' ? status : undefined;
  }, timeoutMs);
}

export interface MessageRow {
  id: number;
  status: string;
  attempts: number;
  last_error: string | null;
}

export async function messagesOf(db: Database, mailingId: number): Promise<MessageRow[]> {
  const rows = await db('messages').where({ mailing_id: mailingId }).select('id', 'status', 'attempts', 'last_error').orderBy('id');
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/** What the provider's own record says about one mailing's messages. */
export function audit(provider: FakeProvider, messageIds: Set<number>, phones: string[], endAt: number) {
  const requests = provider.received().filter((r) => messageIds.has(r.msgId));
  const byMsgId = new Map<number, ReceivedRequest[]>();
  for (const r of requests) byMsgId.set(r.msgId, [...(byMsgId.get(r.msgId) ?? []), r]);
  const msgIdsByPhone = new Map<string, Set<number>>();
  for (const r of requests) msgIdsByPhone.set(String(r.phone), (msgIdsByPhone.get(String(r.phone)) ?? new Set()).add(r.msgId));
  const deliveredPhones = new Set(requests.filter((r) => r.outcome === 'ok').map((r) => String(r.phone)));
  return {
    requests: requests.length,
    delivered: deliveredPhones.size,
    /** msgIds the provider accepted more than once (only a lost answer may cause that). */
    deliveredTwice: [...byMsgId.values()].filter((rs) => rs.filter((r) => r.outcome === 'ok').length > 1).length,
    /** Clients that received two different messages of the mailing: must never happen. */
    clientsWithTwoMessages: [...msgIdsByPhone.values()].filter((ids) => ids.size > 1).length,
    late: requests.filter((r) => r.at >= endAt).length,
    lost: phones.filter((p) => !deliveredPhones.has(p)).length,
    byMsgId,
  };
}
