import assert from 'node:assert/strict';
import { assertProblem, futureWindow, isoIn, MAX_BODY_BYTES, useApi } from '../support/api';

const HOUR = 3600_000;

describe('mailings API errors', () => {
  const ctx = useApi();
  const valid = () => ({ ...futureWindow(), text: 'hello' });

  describe('times', () => {
    it('refuses end_at before start_at with 422, naming end_at', async () => {
      const res = await ctx.api.post('/api/mailings/', { start_at: isoIn(48 * HOUR), end_at: isoIn(24 * HOUR), text: 'x' });
      assertProblem(res, 422, 'end_at');
    });

    it('refuses end_at equal to start_at with 422, naming end_at', async () => {
      const at = isoIn(24 * HOUR);
      assertProblem(await ctx.api.post('/api/mailings/', { start_at: at, end_at: at, text: 'x' }), 422, 'end_at');
    });

    it('refuses an end_at that has already passed with 422, naming end_at', async () => {
      const res = await ctx.api.post('/api/mailings/', { start_at: isoIn(-48 * HOUR), end_at: isoIn(-24 * HOUR), text: 'x' });
      assertProblem(res, 422, 'end_at');
    });

    it('refuses a start_at without an offset ("2026-12-01T10:00:00") with 400, naming start_at', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), start_at: '2026-12-01T10:00:00' }), 400, 'start_at');
    });

    it('refuses a date-only end_at with 400, naming end_at', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), end_at: '2099-12-01' }), 400, 'end_at');
    });

    it('refuses an end_at that is not a date with 400, naming end_at', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), end_at: 'tomorrow' }), 400, 'end_at');
    });

    it('refuses a start_at given as a number (epoch ms) with 400, naming start_at', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), start_at: Date.now() + HOUR }), 400, 'start_at');
    });

    it('refuses a start_at on a day that does not exist (February 30) with 400, naming start_at', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), start_at: '2099-02-30T10:00:00Z' }), 400, 'start_at');
    });

    it('refuses a start_at with a leap second (23:59:60Z) as a 4xx naming start_at, not a server error', async () => {
      const res = await ctx.api.post('/api/mailings/', { ...valid(), start_at: '2099-12-31T23:59:60Z', end_at: '2100-01-02T00:00:00Z' });
      assert.ok(res.status === 400 || res.status === 422, `expected 400 or 422, got ${res.status}`);
      assertProblem(res, res.status, 'start_at');
    });

    it('refuses a start_at whose offset has hours only ("+03") as a 4xx naming start_at, not a server error', async () => {
      const res = await ctx.api.post('/api/mailings/', { ...valid(), start_at: '2099-12-01T10:00:00+03' });
      assert.ok(res.status === 400 || res.status === 422, `expected 400 or 422, got ${res.status}`);
      assertProblem(res, res.status, 'start_at');
    });

    it('refuses a PATCH of end_at to before the stored start_at with 422, naming end_at', async () => {
      const mailing = await ctx.api.createMailing();
      assertProblem(await ctx.api.patch(`/api/mailings/${mailing.id}/`, { end_at: isoIn(HOUR) }), 422, 'end_at');
    });

    it('leaves the mailing unchanged after a refused PATCH', async () => {
      const mailing = await ctx.api.createMailing();
      await ctx.api.patch(`/api/mailings/${mailing.id}/`, { end_at: isoIn(HOUR), text: 'changed' });
      assert.deepEqual((await ctx.api.get(`/api/mailings/${mailing.id}/`)).body, mailing);
    });
  });

  describe('text', () => {
    it('refuses an empty text with 400, naming text', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), text: '' }), 400, 'text');
    });

    it('refuses a whitespace-only text with 400, naming text', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), text: ' \t\n ' }), 400, 'text');
    });

    it('refuses a text longer than 1000 characters with 400, naming text', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), text: 'x'.repeat(1001) }), 400, 'text');
    });

    it('refuses a missing text with 400, naming text', async () => {
      const { text: _, ...withoutText } = valid();
      assertProblem(await ctx.api.post('/api/mailings/', withoutText), 400, 'text');
    });

    it('refuses a PATCH to a whitespace-only text with 400, naming text', async () => {
      const mailing = await ctx.api.createMailing();
      assertProblem(await ctx.api.patch(`/api/mailings/${mailing.id}/`, { text: '   ' }), 400, 'text');
    });
  });

  describe('filter', () => {
    it('refuses an unknown filter key with 400, naming filter.<key>', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), filter: { city: 'Moscow' } }), 400, 'filter.city');
    });

    it('refuses a filter operator code that is not three digits with 400, naming filter.mobile_operator_code', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), filter: { mobile_operator_code: '91' } }), 400, 'filter.mobile_operator_code');
    });

    it('refuses a bad operator code inside a filter list with 400, naming its position', async () => {
      const res = await ctx.api.post('/api/mailings/', { ...valid(), filter: { mobile_operator_code: ['916', 'abc'] } });
      assertProblem(res, 400, 'filter.mobile_operator_code.1');
    });

    it('refuses an empty filter list with 400, naming filter.tag', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), filter: { tag: [] } }), 400, 'filter.tag');
    });

    it('refuses a filter list of more than 100 values with 400, naming filter.tag', async () => {
      const tags = Array.from({ length: 101 }, (_, i) => `t${i}`);
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), filter: { tag: tags } }), 400, 'filter.tag');
    });

    it('refuses a null filter with 400, naming filter', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), filter: null }), 400, 'filter');
    });

    it('refuses an unknown top-level field with 400, naming it', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), status: 'running' }), 400, 'status');
    });
  });

  describe('requests', () => {
    it('refuses malformed JSON with 400, naming body', async () => {
      const res = await ctx.api.post('/api/mailings/', undefined, { raw: '{"text": ', headers: { 'content-type': 'application/json' } });
      assertProblem(res, 400, 'body');
    });

    it('refuses a body sent as text/plain with 415', async () => {
      const res = await ctx.api.post('/api/mailings/', undefined, { raw: JSON.stringify(valid()), headers: { 'content-type': 'text/plain' } });
      assertProblem(res, 415);
    });

    it('refuses a body larger than MAX_BODY_BYTES with 413, naming body', async () => {
      assertProblem(await ctx.api.post('/api/mailings/', { ...valid(), text: 'x'.repeat(MAX_BODY_BYTES + 1) }), 413, 'body');
    });

    it('refuses a request without a body with 400, naming body', async () => {
      assertProblem(await ctx.api.post('/api/mailings/'), 400, 'body');
    });

    it('refuses an empty PATCH {} with 400', async () => {
      const mailing = await ctx.api.createMailing();
      assertProblem(await ctx.api.patch(`/api/mailings/${mailing.id}/`, {}), 400, 'body');
    });

    it('refuses limit=0 on the mailing list with 400, naming query.limit', async () => {
      assertProblem(await ctx.api.get('/api/mailings/?limit=0'), 400, 'query.limit');
    });

    it('refuses limit=1001 on /api/mailings/fullinfo/ with 400, naming query.limit', async () => {
      assertProblem(await ctx.api.get('/api/mailings/fullinfo/?limit=1001'), 400, 'query.limit');
    });

    it('refuses a bad cursor on a mailing info with 400, naming query.cursor', async () => {
      const mailing = await ctx.api.createMailing();
      assertProblem(await ctx.api.get(`/api/mailings/${mailing.id}/info/?cursor=-1`), 400, 'query.cursor');
    });
  });

  describe('ids', () => {
    const unknown = 9_000_000_000_000;

    it('answers GET of an unknown mailing with 404', async () => {
      assertProblem(await ctx.api.get(`/api/mailings/${unknown}/`), 404);
    });

    it('answers PUT of an unknown mailing with 404', async () => {
      assertProblem(await ctx.api.put(`/api/mailings/${unknown}/`, valid()), 404);
    });

    it('answers PATCH of an unknown mailing with 404', async () => {
      assertProblem(await ctx.api.patch(`/api/mailings/${unknown}/`, { text: 'x' }), 404);
    });

    it('answers DELETE of an unknown mailing with 404', async () => {
      assertProblem(await ctx.api.delete(`/api/mailings/${unknown}/`), 404);
    });

    it('refuses a non-integer mailing id with 400, naming path.id', async () => {
      assertProblem(await ctx.api.get('/api/mailings/abc/'), 400, 'path.id');
    });

    it('refuses a non-integer mailing id on DELETE with 400, naming path.id', async () => {
      assertProblem(await ctx.api.delete('/api/mailings/abc/'), 400, 'path.id');
    });

    it('refuses a non-integer mailing id on info with 400, naming path.id', async () => {
      assertProblem(await ctx.api.get('/api/mailings/abc/info/'), 400, 'path.id');
    });
  });
});
