import assert from 'node:assert/strict';
import { seedAudience } from '../faults/support';
import { assertProblem, futureWindow, isoIn, uniqueTag, useApi } from '../support/api';

const HOUR = 3600_000;
const zeroCounts = { pending: 0, sent: 0, failed: 0, expired: 0, cancelled: 0 };

describe('mailings API', () => {
  const ctx = useApi();

  describe('POST /api/mailings/', () => {
    it('creates a mailing and answers 201 with status scheduled and its Location', async () => {
      const window = futureWindow();
      const res = await ctx.api.post('/api/mailings/', { ...window, text: 'Spring sale', filter: { tag: ['vip'] } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.status, 'scheduled');
      assert.equal(res.body.text, 'Spring sale');
      assert.equal(res.body.start_at, window.start_at);
      assert.equal(res.body.end_at, window.end_at);
      assert.equal(res.headers.get('location'), `/api/mailings/${res.body.id}/`);
    });

    it('stores a filter value given alone as a one-item list', async () => {
      const mailing = await ctx.api.createMailing({ filter: { mobile_operator_code: '916', tag: 'vip' } });
      assert.deepEqual(mailing.filter, { mobile_operator_code: ['916'], tag: ['vip'] });
    });

    it('stores a filter list without its duplicates', async () => {
      const mailing = await ctx.api.createMailing({ filter: { tag: ['a', 'b', 'a'] } });
      assert.deepEqual(mailing.filter, { tag: ['a', 'b'] });
    });

    it('stores an omitted filter as {} (every client)', async () => {
      const mailing = await ctx.api.createMailing();
      assert.deepEqual(mailing.filter, {});
    });

    it('keeps the instants of start_at and end_at given with a non-UTC offset', async () => {
      const mailing = await ctx.api.createMailing({ start_at: '2099-12-01T09:00:00+03:00', end_at: '2099-12-01T21:30:00-02:00' });
      assert.equal(Date.parse(mailing.start_at), Date.parse('2099-12-01T06:00:00Z'));
      assert.equal(Date.parse(mailing.end_at), Date.parse('2099-12-01T23:30:00Z'));
    });

    it('accepts a start_at that has passed when end_at is still ahead', async () => {
      const res = await ctx.api.post('/api/mailings/', { start_at: isoIn(-HOUR), end_at: isoIn(HOUR), text: 'now' });
      assert.equal(res.status, 201, res.text);
    });

    it('creates a mailing without the trailing slash', async () => {
      const res = await ctx.api.post('/api/mailings', { ...futureWindow(), text: 'no slash' });
      assert.equal(res.status, 201, res.text);
    });
  });

  describe('GET /api/mailings/{id}/', () => {
    it('reads a mailing as it was created', async () => {
      const mailing = await ctx.api.createMailing({ filter: { tag: 'reader' } });
      const res = await ctx.api.get(`/api/mailings/${mailing.id}/`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, mailing);
    });

    it('reads a mailing without the trailing slash', async () => {
      const mailing = await ctx.api.createMailing();
      assert.deepEqual((await ctx.api.get(`/api/mailings/${mailing.id}`)).body, mailing);
    });
  });

  describe('GET /api/mailings/', () => {
    it('pages through mailings in id order with next_cursor', async () => {
      const ids = [(await ctx.api.createMailing()).id, (await ctx.api.createMailing()).id, (await ctx.api.createMailing()).id];
      const page1 = await ctx.api.get(`/api/mailings/?cursor=${ids[0] - 1}&limit=2`);
      assert.deepEqual(page1.body.items.map((m: { id: number }) => m.id), ids.slice(0, 2));
      assert.equal(page1.body.next_cursor, String(ids[1]));
      const page2 = await ctx.api.get(`/api/mailings/?cursor=${page1.body.next_cursor}&limit=1`);
      assert.deepEqual(page2.body.items.map((m: { id: number }) => m.id), [ids[2]]);
    });

    it('lists a new mailing as it was created', async () => {
      const mailing = await ctx.api.createMailing();
      const res = await ctx.api.get(`/api/mailings/?cursor=${mailing.id - 1}&limit=1`);
      assert.deepEqual(res.body.items, [mailing]);
    });

    it('lists only the mailings in the status asked for', async () => {
      const scheduled = await ctx.api.createMailing();
      const paused = await ctx.api.createMailing();
      await ctx.api.post(`/api/mailings/${paused.id}/pause/`);
      const res = await ctx.api.get(`/api/mailings/?status=paused&cursor=${scheduled.id - 1}`);
      assert.deepEqual(res.body.items.map((m: { id: number }) => m.id), [paused.id]);
    });

    it('lists newest first with order=desc, and its next_cursor continues towards older ones', async () => {
      const ids = [(await ctx.api.createMailing()).id, (await ctx.api.createMailing()).id, (await ctx.api.createMailing()).id];
      const page1 = await ctx.api.get(`/api/mailings/?order=desc&cursor=${ids[2] + 1}&limit=2`);
      assert.deepEqual(page1.body.items.map((m: { id: number }) => m.id), [ids[2], ids[1]]);
      assert.equal(page1.body.next_cursor, String(ids[1]));
      const page2 = await ctx.api.get(`/api/mailings/?order=desc&cursor=${page1.body.next_cursor}&limit=1`);
      assert.deepEqual(page2.body.items.map((m: { id: number }) => m.id), [ids[0]]);
    });

    it('refuses an unknown order with 400, naming query.order', async () => {
      assertProblem(await ctx.api.get('/api/mailings/?order=newest'), 400, 'query.order');
    });

    it('refuses an unknown status with 400, naming query.status', async () => {
      assertProblem(await ctx.api.get('/api/mailings/?status=sleeping'), 400, 'query.status');
    });
  });

  describe('PUT /api/mailings/{id}/', () => {
    it('replaces every field of a scheduled mailing', async () => {
      const mailing = await ctx.api.createMailing({ filter: { tag: 'old' } });
      const window = { start_at: isoIn(30 * HOUR), end_at: isoIn(60 * HOUR) };
      const res = await ctx.api.put(`/api/mailings/${mailing.id}/`, { ...window, text: 'replaced', filter: { mobile_operator_code: ['916', '903'] } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { id: mailing.id, ...window, text: 'replaced', filter: { mobile_operator_code: ['916', '903'] }, send_window: null, status: 'scheduled' });
    });

    it('clears the filter when the replacement omits it', async () => {
      const mailing = await ctx.api.createMailing({ filter: { tag: 'old' } });
      const res = await ctx.api.put(`/api/mailings/${mailing.id}/`, { start_at: mailing.start_at, end_at: mailing.end_at, text: mailing.text });
      assert.deepEqual(res.body.filter, {});
    });

    it('keeps the replacement when the mailing is read again', async () => {
      const mailing = await ctx.api.createMailing();
      const put = await ctx.api.put(`/api/mailings/${mailing.id}`, { ...futureWindow(), text: 'kept' });
      assert.deepEqual((await ctx.api.get(`/api/mailings/${mailing.id}/`)).body, put.body);
    });
  });

  describe('PATCH /api/mailings/{id}/', () => {
    it('keeps both of two patches of different fields sent at the same moment', async () => {
      for (let pair = 0; pair < 20; pair++) {
        const mailing = await ctx.api.createMailing();
        const text = `patched ${pair}`;
        const answers = await Promise.all([ctx.api.patch(`/api/mailings/${mailing.id}/`, { text }), ctx.api.patch(`/api/mailings/${mailing.id}/`, { filter: { tag: 'x' } })]);
        assert.deepEqual(answers.map((res) => res.status), [200, 200]);
        const now = (await ctx.api.get(`/api/mailings/${mailing.id}/`)).body;
        assert.deepEqual([now.text, now.filter], [text, { tag: ['x'] }], `pair ${pair}`);
      }
    });

    it('changes only the given fields of a scheduled mailing', async () => {
      const mailing = await ctx.api.createMailing({ filter: { tag: 'keep' } });
      const res = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { text: 'patched' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { ...mailing, text: 'patched' });
    });

    it('normalises a patched filter to lists', async () => {
      const mailing = await ctx.api.createMailing();
      const res = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { filter: { mobile_operator_code: '916' } });
      assert.deepEqual(res.body.filter, { mobile_operator_code: ['916'] });
    });

    it('moves end_at of a scheduled mailing', async () => {
      const mailing = await ctx.api.createMailing();
      const end_at = isoIn(72 * HOUR);
      const res = await ctx.api.patch(`/api/mailings/${mailing.id}`, { end_at });
      assert.equal(res.body.end_at, end_at);
    });

    it('lets a running mailing change its text', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'running' });
      const res = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { text: 'late change' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { ...mailing, text: 'late change', status: 'running' });
    });

    it("refuses to move a running mailing's start_at with 409, naming start_at", async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'running' });
      assertProblem(await ctx.api.patch(`/api/mailings/${mailing.id}/`, { start_at: isoIn(25 * HOUR) }), 409, 'start_at');
    });

    it("refuses to bring a running mailing's end_at closer than 5 s from now with 422, naming end_at", async () => {
      const mailing = await ctx.api.createMailing({ start_at: isoIn(-HOUR), end_at: isoIn(HOUR) });
      await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'running' });
      const res = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { end_at: isoIn(2_000) });
      assertProblem(res, 422, 'end_at');
      assert.match(res.body.detail, /at least 5 s from now/);
    });

    it("moves a running mailing's end_at to 10 s from now", async () => {
      const mailing = await ctx.api.createMailing({ start_at: isoIn(-HOUR), end_at: isoIn(HOUR) });
      await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'running' });
      const end_at = isoIn(10_000);
      const res = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { end_at });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.end_at, end_at);
      assert.equal((await ctx.api.db('mailings').where({ id: mailing.id }).first('end_at')).end_at.toISOString(), end_at);
    });

    for (const status of ['finished', 'expired']) {
      it(`refuses to edit a ${status} mailing with 409, naming status`, async () => {
        const mailing = await ctx.api.createMailing();
        await ctx.api.db('mailings').where({ id: mailing.id }).update({ status });
        assertProblem(await ctx.api.patch(`/api/mailings/${mailing.id}/`, { text: 'too late' }), 409, 'status');
      });
    }
  });

  describe('audience preview', () => {
    it('counts the clients a filter matches now', async () => {
      const tag = uniqueTag('preview');
      for (let i = 0; i < 3; i++) await ctx.api.createClient({ tag });
      const res = await ctx.api.post('/api/mailings/preview/', { filter: { tag } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { clients: 3, estimated: false });
    });

    it('refuses a send window whose ends are the same time with 400 naming send_window, as a mailing would', async () => {
      assertProblem(await ctx.api.post('/api/mailings/preview/', { filter: {}, send_window: { from: '09:00', to: '09:00' } }), 400, 'send_window');
    });

    it('shows the same count as the audience of a scheduled mailing', async () => {
      const tag = uniqueTag('preview');
      for (let i = 0; i < 2; i++) await ctx.api.createClient({ tag });
      const mailing = await ctx.api.createMailing({ filter: { tag } });
      const { progress } = (await ctx.api.get(`/api/mailings/${mailing.id}/info/`)).body;
      assert.deepEqual(progress, { audience: 2, audience_estimated: false, rate_per_second: 0, estimated_finish_at: null });
    });
  });

  describe('pause and resume', () => {
    it('pauses a scheduled mailing, and pausing it again is 200', async () => {
      const mailing = await ctx.api.createMailing();
      const paused = await ctx.api.post(`/api/mailings/${mailing.id}/pause/`);
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.body.status, 'paused');
      assert.equal((await ctx.api.post(`/api/mailings/${mailing.id}/pause/`)).body.status, 'paused');
    });

    it('resumes a mailing paused before its start as scheduled', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.post(`/api/mailings/${mailing.id}/pause/`);
      const resumed = await ctx.api.post(`/api/mailings/${mailing.id}/resume/`);
      assert.equal(resumed.status, 200, resumed.text);
      assert.equal(resumed.body.status, 'scheduled');
    });

    for (const status of ['finished', 'expired']) {
      it(`refuses to pause or resume a ${status} mailing with 409, naming status`, async () => {
        const mailing = await ctx.api.createMailing();
        await ctx.api.db('mailings').where({ id: mailing.id }).update({ status });
        assertProblem(await ctx.api.post(`/api/mailings/${mailing.id}/pause/`), 409, 'status');
        assertProblem(await ctx.api.post(`/api/mailings/${mailing.id}/resume/`), 409, 'status');
      });
    }

    it('answers 404 to pausing a deleted mailing', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.delete(`/api/mailings/${mailing.id}/`);
      assertProblem(await ctx.api.post(`/api/mailings/${mailing.id}/pause/`), 404);
    });
  });

  describe('send_window', () => {
    it('is kept as given at creation, and null when omitted', async () => {
      const windowed = await ctx.api.createMailing({ send_window: { from: '09:00', to: '21:00' } });
      assert.deepEqual(windowed.send_window, { from: '09:00', to: '21:00' });
      assert.equal((await ctx.api.createMailing()).send_window, null);
    });

    it('accepts a window across midnight (22:00-06:00)', async () => {
      const mailing = await ctx.api.createMailing({ send_window: { from: '22:00', to: '06:00' } });
      assert.deepEqual(mailing.send_window, { from: '22:00', to: '06:00' });
    });

    it('is changed by PATCH and removed with null', async () => {
      const mailing = await ctx.api.createMailing({ send_window: { from: '09:00', to: '21:00' } });
      const changed = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { send_window: { from: '10:00', to: '18:30' } });
      assert.deepEqual(changed.body.send_window, { from: '10:00', to: '18:30' });
      const removed = await ctx.api.patch(`/api/mailings/${mailing.id}/`, { send_window: null });
      assert.equal(removed.body.send_window, null);
    });

    it('refuses from equal to to with 400, naming send_window', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...futureWindow(), text: 'x', send_window: { from: '09:00', to: '09:00' } }), 400, 'send_window');
    });

    it('refuses a time that is not HH:MM with 400, naming send_window.from', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...futureWindow(), text: 'x', send_window: { from: '9:00', to: '21:00' } }), 400, 'send_window.from');
    });

    it('refuses 24:00 with 400, naming send_window.to', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...futureWindow(), text: 'x', send_window: { from: '09:00', to: '24:00' } }), 400, 'send_window.to');
    });
  });

  describe('DELETE /api/mailings/{id}/', () => {
    it('deletes a scheduled mailing with 204 and no body', async () => {
      const mailing = await ctx.api.createMailing();
      const res = await ctx.api.delete(`/api/mailings/${mailing.id}/`);
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
    });

    it('answers 404 when the deleted mailing is read', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.delete(`/api/mailings/${mailing.id}`);
      assertProblem(await ctx.api.get(`/api/mailings/${mailing.id}/`), 404);
    });

    it('no longer lists a deleted mailing', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.delete(`/api/mailings/${mailing.id}/`);
      const res = await ctx.api.get(`/api/mailings/?cursor=${mailing.id - 1}&limit=1`);
      assert.ok(!res.body.items.some((m: { id: number }) => m.id === mailing.id));
    });

    it('answers 404 when the same mailing is deleted twice', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.delete(`/api/mailings/${mailing.id}/`);
      assertProblem(await ctx.api.delete(`/api/mailings/${mailing.id}/`), 404);
    });

    it('answers 404 when a deleted mailing is edited', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.delete(`/api/mailings/${mailing.id}/`);
      assertProblem(await ctx.api.patch(`/api/mailings/${mailing.id}/`, { text: 'ghost' }), 404);
    });
  });

  describe('statistics', () => {
    it('lists a new mailing in /api/mailings/fullinfo/ with zero counts', async () => {
      const mailing = await ctx.api.createMailing();
      const res = await ctx.api.get(`/api/mailings/fullinfo/?cursor=${mailing.id - 1}&limit=1`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.items, [{ mailing, counts: zeroCounts }]);
    });

    it('lists only the mailings in the status asked for in /api/mailings/fullinfo/, with their counts', async () => {
      const scheduled = await ctx.api.createMailing();
      const paused = await ctx.api.createMailing();
      await ctx.api.post(`/api/mailings/${paused.id}/pause/`);
      const res = await ctx.api.get(`/api/mailings/fullinfo/?status=scheduled&cursor=${scheduled.id - 1}`);
      assert.deepEqual(res.body.items, [{ mailing: scheduled, counts: zeroCounts }]);
    });

    it('gives totals for every status in /api/mailings/fullinfo/', async () => {
      const res = await ctx.api.get('/api/mailings/fullinfo/');
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body.totals).sort(), Object.keys(zeroCounts).sort());
    });

    it('gives each mailing in /api/mailings/fullinfo/ its own counts, and totals that include them', async () => {
      const [a, b] = [await ctx.api.createMailing(), await ctx.api.createMailing()];
      const before = (await ctx.api.get('/api/mailings/fullinfo/?limit=1')).body.totals;
      const message = (mailingId: number, n: number, status: string) => ({ mailing_id: mailingId, phone: `7900000${String(n).padStart(4, '0')}`, status });
      await ctx.api.db('messages').insert([message(a.id, 1, 'sent'), message(a.id, 2, 'sent'), message(a.id, 3, 'failed'), message(b.id, 4, 'pending')]);
      const res = await ctx.api.get(`/api/mailings/fullinfo/?cursor=${a.id - 1}&limit=2`);
      assert.deepEqual(res.body.items, [
        { mailing: a, counts: { ...zeroCounts, sent: 2, failed: 1 } },
        { mailing: b, counts: { ...zeroCounts, pending: 1 } },
      ]);
      assert.deepEqual(res.body.totals, { ...before, sent: before.sent + 2, failed: before.failed + 1, pending: before.pending + 1 });
    });

    it('pages /api/mailings/fullinfo/ as /api/mailings/ pages the mailings, in either order', async () => {
      await ctx.api.createMailing();
      await ctx.api.createMailing();
      for (const order of ['asc', 'desc']) {
        const first = (await ctx.api.get(`/api/mailings/fullinfo/?limit=2&order=${order}`)).body;
        const listed = (await ctx.api.get(`/api/mailings/?limit=2&order=${order}`)).body;
        assert.deepEqual({ items: first.items.map((item: { mailing: unknown }) => item.mailing), next_cursor: first.next_cursor }, listed);
      }
    });

    it('reads /api/mailings/fullinfo/ in one statement', async () => {
      const statements: string[] = [];
      const record = (query: { sql: string }) => statements.push(query.sql);
      ctx.api.db.on('query', record);
      try {
        assert.equal((await ctx.api.get('/api/mailings/fullinfo/')).status, 200);
      } finally {
        ctx.api.db.off('query', record);
      }
      // The caller's API key is looked up on its own.
      assert.equal(statements.filter((sql) => !sql.includes('api_keys')).length, 1, statements.join('\n'));
    });

    it('answers /api/mailings/fullinfo without the trailing slash', async () => {
      assert.equal((await ctx.api.get('/api/mailings/fullinfo?limit=1')).status, 200);
    });

    it('describes a new mailing in /api/mailings/{id}/info/ with zero counts, no send times and no messages', async () => {
      const mailing = await ctx.api.createMailing();
      const res = await ctx.api.get(`/api/mailings/${mailing.id}/info/`);
      assert.equal(res.status, 200);
      const { progress, ...rest } = res.body;
      assert.deepEqual(rest, {
        mailing,
        counts: zeroCounts,
        first_sent_at: null,
        last_sent_at: null,
        messages: { items: [], next_cursor: null },
      });
      assert.deepEqual([progress.rate_per_second, progress.estimated_finish_at], [0, null]);
    });

    it('reports the audience a finished mailing recorded, not the clients its filter matches now', async () => {
      const tag = uniqueTag('finished');
      const [messaged] = [await ctx.api.createClient({ tag }), await ctx.api.createClient({ tag })];
      const mailing = await ctx.api.createMailing({ filter: { tag } });
      await ctx.api.db('messages').insert({ mailing_id: mailing.id, client_id: messaged.id, phone: messaged.phone_number, status: 'sent', sent_at: new Date() });
      await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'finished' });
      const { progress } = (await ctx.api.get(`/api/mailings/${mailing.id}/info/`)).body;
      assert.deepEqual([progress.audience, progress.audience_estimated], [1, false]);
    });

    for (const status of ['running', 'paused'] as const) {
      it(`reports the audience a ${status} mailing recorded once it had started, not the clients its filter matches now`, async () => {
        const tag = uniqueTag(`${status}-started`);
        const [messaged] = [await ctx.api.createClient({ tag }), await ctx.api.createClient({ tag })];
        const mailing = await ctx.api.createMailing({ filter: { tag } });
        await ctx.api.db('messages').insert({ mailing_id: mailing.id, client_id: messaged.id, phone: messaged.phone_number });
        await ctx.api.db('mailings').where({ id: mailing.id }).update({ status, started_at: new Date() });
        const { progress } = (await ctx.api.get(`/api/mailings/${mailing.id}/info/`)).body;
        assert.deepEqual([progress.audience, progress.audience_estimated], [1, false]);
      });
    }

    it('counts the clients matching the filter of a mailing paused before its start', async () => {
      const tag = uniqueTag('paused-unstarted');
      await ctx.api.createClient({ tag });
      await ctx.api.createClient({ tag });
      const mailing = await ctx.api.createMailing({ filter: { tag } });
      await ctx.api.db('mailings').where({ id: mailing.id }).update({ status: 'paused' });
      const { progress } = (await ctx.api.get(`/api/mailings/${mailing.id}/info/`)).body;
      assert.deepEqual([progress.audience, progress.audience_estimated], [2, false]);
    });

    it('reports the rate of the last 1,000 sends when they took less than the last minute', async () => {
      const tag = uniqueTag('rate');
      await seedAudience(ctx.api, tag, 1_501);
      const mailing = await ctx.api.createMailing({ filter: { tag } });
      // One send half an hour ago, then 1,500 one millisecond apart: 1,000 a second, where the last minute says 25.
      await ctx.api.db.raw(
        `INSERT INTO messages (mailing_id, client_id, phone, status, sent_at)
         SELECT ?, id, phone_number, 'sent', CASE WHEN n = 1 THEN now() - interval '30 minutes' ELSE now() - n * interval '1 ms' END
         FROM (SELECT id, phone_number, row_number() OVER (ORDER BY id) AS n FROM clients WHERE tag = ?) c`,
        [mailing.id, tag],
      );
      const { progress } = (await ctx.api.get(`/api/mailings/${mailing.id}/info/`)).body;
      assert.ok(progress.rate_per_second > 500 && progress.rate_per_second <= 1_001, `rate ${progress.rate_per_second}`);
    });

    it('answers 404 for the info of an unknown mailing', async () => {
      assertProblem(await ctx.api.get('/api/mailings/9000000000000/info/'), 404);
    });

    it('answers 404 for the info of a deleted mailing', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.delete(`/api/mailings/${mailing.id}/`);
      assertProblem(await ctx.api.get(`/api/mailings/${mailing.id}/info/`), 404);
    });
  });
});
