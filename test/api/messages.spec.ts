import assert from 'node:assert/strict';
import { messagePage } from '../../storage/messages';
import { assertProblem, useApi } from '../support/api';

/** The names of the indexes a plan reads (EXPLAIN (FORMAT JSON)). */
function indexesOf(plan: Record<string, unknown>): string[] {
  const own = typeof plan['Index Name'] === 'string' ? [plan['Index Name']] : [];
  return [...own, ...((plan.Plans as Record<string, unknown>[] | undefined) ?? []).flatMap(indexesOf)];
}

describe('messages API', () => {
  const ctx = useApi();

  /** A message row as a worker would record it; the API only reads messages. */
  async function recordMessage(fields: Record<string, unknown>): Promise<number> {
    const [row] = await ctx.api.db('messages').insert(fields).returning('id');
    return Number(row.id);
  }

  it('answers an empty page for the messages of a new mailing', async () => {
    const mailing = await ctx.api.createMailing();
    const res = await ctx.api.get(`/api/messages/?mailing_id=${mailing.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { items: [], next_cursor: null });
  });

  it('lists messages without the trailing slash', async () => {
    const mailing = await ctx.api.createMailing();
    const res = await ctx.api.get(`/api/messages?mailing_id=${mailing.id}`);
    assert.deepEqual(res.body, { items: [], next_cursor: null });
  });

  it('reads a page of the mailing sending now through its index, even where the primary key looks cheaper to the planner', async () => {
    // The newest mailing's messages come after everyone else's; with random reads priced high, walking
    // the primary key in id order looks cheaper than the index on (mailing_id, id), but reads them all.
    const [older, sending] = [await ctx.api.createMailing(), await ctx.api.createMailing()];
    for (const mailing of [older, sending]) {
      await ctx.api.db.raw(`INSERT INTO messages (mailing_id, phone, status) SELECT ?, '7' || lpad(g::text, 10, '0'), 'sent' FROM generate_series(1, 20000) g`, [mailing.id]);
    }
    await ctx.api.db.raw('ANALYZE messages');
    const { sql, bindings } = messagePage({ mailing_id: sending.id }, { limit: 50 }).toSQL();
    const indexes = await ctx.api.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL random_page_cost = 40');
      const { rows } = await trx.raw(`EXPLAIN (FORMAT JSON) ${sql}`, bindings);
      return indexesOf(rows[0]['QUERY PLAN'][0].Plan);
    });
    assert.deepEqual(indexes, ['messages_mailing_id_id']);
  });

  it('answers 404 for an unknown message id', async () => {
    assertProblem(await ctx.api.get('/api/messages/9000000000000/'), 404);
  });

  it('refuses a status filter that is not a message status with 400, naming query.status', async () => {
    assertProblem(await ctx.api.get('/api/messages/?status=delivered'), 400, 'query.status');
  });

  it('refuses a mailing_id filter that is not an id with 400, naming query.mailing_id', async () => {
    assertProblem(await ctx.api.get('/api/messages/?mailing_id=abc'), 400, 'query.mailing_id');
  });

  it('refuses a client_id filter of 0 with 400, naming query.client_id', async () => {
    assertProblem(await ctx.api.get('/api/messages/?client_id=0'), 400, 'query.client_id');
  });

  it('refuses limit=1001 with 400, naming query.limit', async () => {
    assertProblem(await ctx.api.get('/api/messages/?limit=1001'), 400, 'query.limit');
  });

  it('refuses a non-integer message id with 400, naming path.id', async () => {
    assertProblem(await ctx.api.get('/api/messages/abc/'), 400, 'path.id');
  });

  it('refuses a query parameter the spec does not define with 400, naming query.<name>', async () => {
    assertProblem(await ctx.api.get('/api/messages/?sort=id'), 400, 'query.sort');
  });

  it('reads a recorded message in the documented shape', async () => {
    const mailing = await ctx.api.createMailing();
    const client = await ctx.api.createClient();
    const id = await recordMessage({ mailing_id: mailing.id, client_id: client.id, status: 'sent', attempts: 1, sent_at: new Date() });
    const res = await ctx.api.get(`/api/messages/${id}/`);
    assert.equal(res.status, 200);
    assert.equal(res.body.id, id);
    assert.equal(res.body.mailing_id, mailing.id);
    assert.equal(res.body.client_id, client.id);
    assert.equal(res.body.status, 'sent');
    assert.equal(res.body.attempts, 1);
  });

  it("gives a message's times in UTC to the millisecond, as in every other answer, and null for a time not reached", async () => {
    const mailing = await ctx.api.createMailing();
    const id = await recordMessage({
      mailing_id: mailing.id,
      phone: '79990000001',
      created_at: '2026-03-04 05:06:07.891999+03',
      due_at: '2026-03-04 02:06:08.5+00',
    });
    const [{ body: one }, { body: page }] = [await ctx.api.get(`/api/messages/${id}/`), await ctx.api.get(`/api/messages/?mailing_id=${mailing.id}`)];
    const times = ({ created_at, due_at, sent_at }: Record<string, unknown>) => ({ created_at, due_at, sent_at });
    const expected = { created_at: '2026-03-04T02:06:07.891Z', due_at: '2026-03-04T02:06:08.500Z', sent_at: null };
    assert.deepEqual([times(one), times(page.items[0])], [expected, expected]);
  });

  it('filters messages by mailing, client and status together', async () => {
    const [mailing, other] = [await ctx.api.createMailing(), await ctx.api.createMailing()];
    const [a, b] = [await ctx.api.createClient(), await ctx.api.createClient()];
    const sent = await recordMessage({ mailing_id: mailing.id, client_id: a.id, status: 'sent', attempts: 1, sent_at: new Date() });
    // Each of these matches two of the three filters: only the third keeps it out.
    await recordMessage({ mailing_id: mailing.id, client_id: b.id, status: 'sent', attempts: 1, sent_at: new Date() });
    await recordMessage({ mailing_id: other.id, client_id: a.id, status: 'sent', attempts: 1, sent_at: new Date() });
    const ids = async (status: string) =>
      (await ctx.api.get(`/api/messages/?mailing_id=${mailing.id}&client_id=${a.id}&status=${status}`)).body.items.map((m: { id: number }) => m.id);
    assert.deepEqual(await ids('sent'), [sent]);
    // A client has one message per mailing, so the status filter shows itself on a status that message lacks.
    assert.deepEqual(await ids('failed'), []);
  });

  it('keeps a message with client_id null once its client is deleted', async () => {
    const mailing = await ctx.api.createMailing();
    const client = await ctx.api.createClient();
    const id = await recordMessage({ mailing_id: mailing.id, client_id: client.id, status: 'sent', attempts: 1, sent_at: new Date() });
    assert.equal((await ctx.api.delete(`/api/clients/${client.id}/`)).status, 204);
    const res = await ctx.api.get(`/api/messages/${id}/`);
    assert.equal(res.status, 200);
    assert.equal(res.body.client_id, null);
  });

  it("counts a mailing's recorded messages by status in its info", async () => {
    const mailing = await ctx.api.createMailing();
    const clients = [await ctx.api.createClient(), await ctx.api.createClient(), await ctx.api.createClient()];
    const sentAt = new Date('2030-01-01T00:00:00Z');
    await recordMessage({ mailing_id: mailing.id, client_id: clients[0].id, status: 'sent', attempts: 1, sent_at: sentAt });
    await recordMessage({ mailing_id: mailing.id, client_id: clients[1].id, status: 'pending' });
    await recordMessage({ mailing_id: mailing.id, client_id: clients[2].id, status: 'failed', attempts: 2, last_error: 'x' });
    const res = await ctx.api.get(`/api/mailings/${mailing.id}/info/?limit=2`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.counts, { pending: 1, sent: 1, failed: 1, expired: 0, cancelled: 0 });
    assert.equal(res.body.first_sent_at, sentAt.toISOString());
    assert.equal(res.body.messages.items.length, 2);
    assert.notEqual(res.body.messages.next_cursor, null);
  });

  it("pages a mailing's messages in its info as /api/messages/ pages them, in either order", async () => {
    const mailing = await ctx.api.createMailing();
    const client = await ctx.api.createClient();
    await recordMessage({ mailing_id: mailing.id, client_id: client.id, status: 'sent', attempts: 1, sent_at: new Date() });
    await recordMessage({ mailing_id: mailing.id, client_id: null, phone: '79000000001', status: 'failed', attempts: 2, last_error: 'refused' });
    await recordMessage({ mailing_id: mailing.id, client_id: null, phone: '79000000002', status: 'pending' });
    for (const order of ['asc', 'desc']) {
      const first = (await ctx.api.get(`/api/mailings/${mailing.id}/info/?limit=2&order=${order}`)).body.messages;
      assert.deepEqual(first, (await ctx.api.get(`/api/messages/?mailing_id=${mailing.id}&limit=2&order=${order}`)).body);
      const rest = (await ctx.api.get(`/api/mailings/${mailing.id}/info/?limit=2&order=${order}&cursor=${first.next_cursor}`)).body.messages;
      assert.deepEqual(rest, (await ctx.api.get(`/api/messages/?mailing_id=${mailing.id}&limit=2&order=${order}&cursor=${first.next_cursor}`)).body);
      assert.equal(first.items.length + rest.items.length, 3);
    }
  });

  it("reads a running mailing's info in one statement", async () => {
    const mailing = await ctx.api.createMailing();
    await recordMessage({ mailing_id: mailing.id, phone: '79000000003', status: 'sent', attempts: 1, sent_at: new Date() });
    // A mailing not started yet also counts the clients its filter matches now.
    await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'running', started_at: new Date() });
    const statements: string[] = [];
    const record = (query: { sql: string }) => statements.push(query.sql);
    ctx.api.db.on('query', record);
    try {
      assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/info/`)).status, 200);
    } finally {
      ctx.api.db.off('query', record);
    }
    // The caller's API key is looked up on its own.
    assert.equal(statements.filter((sql) => !sql.includes('api_keys')).length, 1, statements.join('\n'));
  });

  it('cancels the pending messages of a deleted mailing but keeps its sent ones listed', async () => {
    const mailing = await ctx.api.createMailing();
    const [a, b] = [await ctx.api.createClient(), await ctx.api.createClient()];
    const sent = await recordMessage({ mailing_id: mailing.id, client_id: a.id, status: 'sent', attempts: 1, sent_at: new Date() });
    const pending = await recordMessage({ mailing_id: mailing.id, client_id: b.id, status: 'pending' });
    assert.equal((await ctx.api.delete(`/api/mailings/${mailing.id}/`)).status, 204);
    const res = await ctx.api.get(`/api/messages/?mailing_id=${mailing.id}`);
    const statuses = Object.fromEntries(res.body.items.map((m: { id: number; status: string }) => [m.id, m.status]));
    assert.deepEqual(statuses, { [sent]: 'sent', [pending]: 'cancelled' });
  });
});
