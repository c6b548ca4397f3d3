import assert from 'node:assert/strict';
import { clientPage } from '../../storage/clients';
import { assertProblem, randomPhone, uniqueTag, useApi, type Api } from '../support/api';

/** The names of the indexes a plan reads (EXPLAIN (FORMAT JSON)). */
function indexesOf(plan: Record<string, unknown>): string[] {
  const own = typeof plan['Index Name'] === 'string' ? [plan['Index Name']] : [];
  return [...own, ...((plan.Plans as Record<string, unknown>[] | undefined) ?? []).flatMap(indexesOf)];
}

type Client = { id: number; phone_number: string; mobile_operator_code: string; tag: string | null; timezone: string };

/** Every client of a filtered list, following next_cursor to the end. */
async function listAll(api: Api, query: string, limit = 2): Promise<{ pages: Client[][]; cursors: (string | null)[] }> {
  const pages: Client[][] = [];
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  do {
    const res = await api.get(`/api/clients/?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, res.text);
    pages.push(res.body.items);
    cursor = res.body.next_cursor;
    cursors.push(cursor);
  } while (cursor !== null && pages.length < 100);
  return { pages, cursors };
}

describe('clients API', () => {
  const ctx = useApi();

  describe('POST /api/clients/', () => {
    it('creates a client and answers 201 with the stored client and its Location', async () => {
      const phone = randomPhone('916');
      const res = await ctx.api.post('/api/clients/', { phone_number: phone, tag: 'vip', timezone: 'Europe/Moscow' });
      assert.equal(res.status, 201);
      assert.ok(Number.isInteger(res.body.id) && res.body.id > 0);
      assert.deepEqual(res.body, { id: res.body.id, phone_number: phone, mobile_operator_code: '916', tag: 'vip', timezone: 'Europe/Moscow' });
      assert.equal(res.headers.get('location'), `/api/clients/${res.body.id}/`);
    });

    it('derives the mobile operator code from digits 2-4 of the phone number', async () => {
      const client = await ctx.api.createClient({ phone_number: '7' + '123' + randomPhone().slice(4) });
      assert.equal(client.mobile_operator_code, '123');
    });

    it('accepts a mobile operator code that matches the phone number', async () => {
      const phone = randomPhone('903');
      const client = await ctx.api.createClient({ phone_number: phone, mobile_operator_code: '903' });
      assert.equal(client.mobile_operator_code, '903');
    });

    it('stores the timezone as the zone database spells it (europe/moscow -> Europe/Moscow)', async () => {
      const client = await ctx.api.createClient({ timezone: 'europe/moscow' });
      assert.equal(client.timezone, 'Europe/Moscow');
    });

    it('stores tag null when the tag is omitted', async () => {
      const client = await ctx.api.createClient();
      assert.equal(client.tag, null);
    });

    it('accepts an explicit null tag', async () => {
      const client = await ctx.api.createClient({ tag: null });
      assert.equal(client.tag, null);
    });

    it('works without the trailing slash on the collection path', async () => {
      const res = await ctx.api.post('/api/clients', { phone_number: randomPhone(), timezone: 'Asia/Tokyo' });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.timezone, 'Asia/Tokyo');
    });
  });

  describe('GET /api/clients/{id}/', () => {
    it('reads a client as it was created', async () => {
      const created = await ctx.api.createClient({ tag: 'reader' });
      const res = await ctx.api.get(`/api/clients/${created.id}/`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, created);
    });

    it('reads a client without the trailing slash', async () => {
      const created = await ctx.api.createClient();
      const res = await ctx.api.get(`/api/clients/${created.id}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, created);
    });
  });

  describe('GET /api/clients/', () => {
    it('pages through a filtered list in id order, with next_cursor null on the last page', async () => {
      const tag = uniqueTag('page');
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push((await ctx.api.createClient({ tag })).id);
      const { pages, cursors } = await listAll(ctx.api, `tag=${tag}`, 2);
      assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
      assert.deepEqual(pages.flat().map((c) => c.id), ids);
      assert.equal(cursors.at(-1), null);
    });

    it('gives a next_cursor that is the id of the last item of the page', async () => {
      const tag = uniqueTag('cursor');
      const first = await ctx.api.createClient({ tag });
      await ctx.api.createClient({ tag });
      const res = await ctx.api.get(`/api/clients/?tag=${tag}&limit=1`);
      assert.deepEqual(res.body.items.map((c: Client) => c.id), [first.id]);
      assert.equal(res.body.next_cursor, String(first.id));
    });

    it('keeps pages stable when clients are added between pages', async () => {
      const tag = uniqueTag('stable');
      const a = await ctx.api.createClient({ tag });
      const b = await ctx.api.createClient({ tag });
      const page1 = await ctx.api.get(`/api/clients/?tag=${tag}&limit=1`);
      const c = await ctx.api.createClient({ tag });
      const page2 = await ctx.api.get(`/api/clients/?tag=${tag}&limit=10&cursor=${page1.body.next_cursor}`);
      assert.deepEqual(page1.body.items.map((x: Client) => x.id), [a.id]);
      assert.deepEqual(page2.body.items.map((x: Client) => x.id), [b.id, c.id]);
      assert.equal(page2.body.next_cursor, null);
    });

    it('lists only the clients with the given tag', async () => {
      const tag = uniqueTag('only');
      const mine = await ctx.api.createClient({ tag });
      await ctx.api.createClient({ tag: uniqueTag('other') });
      const res = await ctx.api.get(`/api/clients/?tag=${tag}`);
      assert.deepEqual(res.body, { items: [mine], next_cursor: null });
    });

    it('lists only the clients with the given mobile operator code', async () => {
      const [code, otherCode] = ['987', '986'];
      const match = await ctx.api.createClient({ phone_number: randomPhone(code) });
      const other = await ctx.api.createClient({ phone_number: randomPhone(otherCode) });
      const { pages } = await listAll(ctx.api, `mobile_operator_code=${code}`, 1000);
      const items = pages.flat();
      assert.ok(items.every((c) => c.mobile_operator_code === code), 'a client of another operator was listed');
      assert.ok(items.some((c) => c.id === match.id));
      assert.ok(!items.some((c) => c.id === other.id));
    });

    it('combines the tag and mobile operator code filters', async () => {
      const tag = uniqueTag('both');
      const match = await ctx.api.createClient({ tag, phone_number: randomPhone('911') });
      await ctx.api.createClient({ tag, phone_number: randomPhone('912') });
      const res = await ctx.api.get(`/api/clients/?tag=${tag}&mobile_operator_code=911`);
      assert.deepEqual(res.body.items, [match]);
    });

    it('reads a page filtered by tag and operator code through the index of both, however rare the pair', async () => {
      // Many clients with the tag and many with the code, none with both.
      const [tag, other] = [uniqueTag('pair'), uniqueTag('pair')];
      const first = 300_000_000 + Math.floor(Math.random() * 400_000_000);
      await ctx.api.db.raw(
        `INSERT INTO clients (phone_number, mobile_operator_code, tag, timezone)
         SELECT '7' || lpad((? + g)::text, 10, '0'), CASE WHEN g % 2 = 0 THEN '998' ELSE '999' END, CASE WHEN g % 2 = 0 THEN ? ELSE ? END, 'UTC'
         FROM generate_series(1, 40000) g
         ON CONFLICT (phone_number) DO NOTHING`,
        [first, tag, other],
      );
      try {
        await ctx.api.db.raw('ANALYZE clients');
        const { sql, bindings } = clientPage({ tag, mobile_operator_code: '999' }, { limit: 100 }).toSQL();
        const { rows } = await ctx.api.db.raw(`EXPLAIN (FORMAT JSON) ${sql}`, bindings);
        assert.deepEqual(indexesOf(rows[0]['QUERY PLAN'][0].Plan), ['clients_tag_code_id']);
      } finally {
        await ctx.api.db('clients').whereIn('tag', [tag, other]).del();
      }
    });

    it('answers an empty page for a tag nobody has', async () => {
      const res = await ctx.api.get(`/api/clients/?tag=${uniqueTag('nobody')}`);
      assert.deepEqual(res.body, { items: [], next_cursor: null });
    });

    it('lists without the trailing slash', async () => {
      const tag = uniqueTag('noslash');
      const mine = await ctx.api.createClient({ tag });
      const res = await ctx.api.get(`/api/clients?tag=${tag}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.items, [mine]);
    });
  });

  describe('PUT /api/clients/{id}/', () => {
    it('replaces every field of a client', async () => {
      const created = await ctx.api.createClient({ tag: 'old' });
      const phone = randomPhone('925');
      const res = await ctx.api.put(`/api/clients/${created.id}/`, { phone_number: phone, tag: 'new', timezone: 'Asia/Yekaterinburg' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { id: created.id, phone_number: phone, mobile_operator_code: '925', tag: 'new', timezone: 'Asia/Yekaterinburg' });
    });

    it('clears the tag when the replacement omits it', async () => {
      const created = await ctx.api.createClient({ tag: 'to-clear' });
      const res = await ctx.api.put(`/api/clients/${created.id}/`, { phone_number: created.phone_number, timezone: created.timezone });
      assert.equal(res.status, 200);
      assert.equal(res.body.tag, null);
    });

    it('keeps the replacement when the client is read again', async () => {
      const created = await ctx.api.createClient();
      const put = await ctx.api.put(`/api/clients/${created.id}`, { phone_number: created.phone_number, tag: 'kept', timezone: 'UTC' });
      const res = await ctx.api.get(`/api/clients/${created.id}/`);
      assert.deepEqual(res.body, put.body);
    });

    it('lets a client keep its own phone number', async () => {
      const created = await ctx.api.createClient();
      const res = await ctx.api.put(`/api/clients/${created.id}/`, { phone_number: created.phone_number, timezone: 'Europe/Paris' });
      assert.equal(res.status, 200, res.text);
    });
  });

  describe('PATCH /api/clients/{id}/', () => {
    it('keeps both of two patches of different fields sent at the same moment', async () => {
      for (let pair = 0; pair < 20; pair++) {
        const created = await ctx.api.createClient({ tag: 'before', timezone: 'UTC' });
        const zone = pair % 2 ? 'Asia/Tokyo' : 'Europe/Paris';
        const answers = await Promise.all([ctx.api.patch(`/api/clients/${created.id}/`, { tag: `after-${pair}` }), ctx.api.patch(`/api/clients/${created.id}/`, { timezone: zone })]);
        assert.deepEqual(answers.map((res) => res.status), [200, 200]);
        const now = (await ctx.api.get(`/api/clients/${created.id}/`)).body;
        assert.deepEqual([now.tag, now.timezone], [`after-${pair}`, zone], `pair ${pair}`);
      }
    });

    it('changes only the given fields', async () => {
      const created = await ctx.api.createClient({ tag: 'before', timezone: 'Europe/Moscow' });
      const res = await ctx.api.patch(`/api/clients/${created.id}/`, { tag: 'after' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { ...created, tag: 'after' });
    });

    it('re-derives the operator code when the phone number changes', async () => {
      const created = await ctx.api.createClient({ phone_number: randomPhone('916') });
      const phone = randomPhone('999');
      const res = await ctx.api.patch(`/api/clients/${created.id}/`, { phone_number: phone });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.phone_number, phone);
      assert.equal(res.body.mobile_operator_code, '999');
    });

    it('clears the tag when patched with null', async () => {
      const created = await ctx.api.createClient({ tag: 'x' });
      const res = await ctx.api.patch(`/api/clients/${created.id}/`, { tag: null });
      assert.equal(res.body.tag, null);
    });

    it('canonicalises a patched timezone', async () => {
      const created = await ctx.api.createClient();
      const res = await ctx.api.patch(`/api/clients/${created.id}/`, { timezone: 'america/new_york' });
      assert.equal(res.body.timezone, 'America/New_York');
    });

    it('accepts a patched operator code together with a phone number it matches', async () => {
      const created = await ctx.api.createClient({ phone_number: randomPhone('916') });
      const res = await ctx.api.patch(`/api/clients/${created.id}/`, { phone_number: randomPhone('901'), mobile_operator_code: '901' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.mobile_operator_code, '901');
    });

    it('patches without the trailing slash', async () => {
      const created = await ctx.api.createClient();
      const res = await ctx.api.patch(`/api/clients/${created.id}`, { tag: 'noslash' });
      assert.equal(res.status, 200);
      assert.equal(res.body.tag, 'noslash');
    });
  });

  describe('DELETE /api/clients/{id}/', () => {
    it('deletes a client with 204 and no body', async () => {
      const created = await ctx.api.createClient();
      const res = await ctx.api.delete(`/api/clients/${created.id}/`);
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
    });

    it('answers 404 when the deleted client is read', async () => {
      const created = await ctx.api.createClient();
      await ctx.api.delete(`/api/clients/${created.id}`);
      assertProblem(await ctx.api.get(`/api/clients/${created.id}/`), 404);
    });

    it('answers 404 when the same client is deleted twice', async () => {
      const created = await ctx.api.createClient();
      await ctx.api.delete(`/api/clients/${created.id}/`);
      assertProblem(await ctx.api.delete(`/api/clients/${created.id}/`), 404);
    });

    it('frees the phone number of a deleted client for a new one', async () => {
      const created = await ctx.api.createClient();
      await ctx.api.delete(`/api/clients/${created.id}/`);
      const res = await ctx.api.post('/api/clients/', { phone_number: created.phone_number, timezone: 'UTC' });
      assert.equal(res.status, 201, res.text);
    });
  });
});
