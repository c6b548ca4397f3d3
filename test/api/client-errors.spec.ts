import assert from 'node:assert/strict';
import { assertProblem, MAX_BODY_BYTES, randomPhone, useApi } from '../support/api';

describe('clients API errors', () => {
  const ctx = useApi();
  const valid = () => ({ phone_number: randomPhone(), timezone: 'Europe/Moscow' });

  describe('request bodies', () => {
    it('refuses malformed JSON with 400, naming body', async () => {
      const res = await ctx.api.post('/api/clients/', undefined, { raw: '{"phone_number": "79161234567",', headers: { 'content-type': 'application/json' } });
      assertProblem(res, 400, 'body');
    });

    it('refuses a JSON body that is not an object or array with 400, naming body', async () => {
      const res = await ctx.api.post('/api/clients/', undefined, { raw: '"79161234567"', headers: { 'content-type': 'application/json' } });
      assertProblem(res, 400, 'body');
    });

    it('refuses a JSON array body with 400, naming body', async () => {
      assertProblem(await ctx.api.post('/api/clients/', [valid()]), 400, 'body');
    });

    it('refuses a request without a body with 400, naming body', async () => {
      assertProblem(await ctx.api.post('/api/clients/'), 400, 'body');
    });

    it('refuses an empty JSON object with 400, naming the required phone_number and timezone', async () => {
      const res = await ctx.api.post('/api/clients/', {});
      assertProblem(res, 400, 'phone_number');
      assertProblem(res, 400, 'timezone');
    });

    it('refuses a body sent as text/plain with 415', async () => {
      const res = await ctx.api.post('/api/clients/', undefined, { raw: JSON.stringify(valid()), headers: { 'content-type': 'text/plain' } });
      assertProblem(res, 415);
    });

    it('refuses a body without a content type with 415', async () => {
      const res = await ctx.api.post('/api/clients/', undefined, { raw: new TextEncoder().encode(JSON.stringify(valid())) });
      assertProblem(res, 415);
    });

    it('refuses a PUT body sent as text/plain with 415', async () => {
      const client = await ctx.api.createClient();
      const res = await ctx.api.put(`/api/clients/${client.id}/`, undefined, { raw: JSON.stringify(valid()), headers: { 'content-type': 'text/plain' } });
      assertProblem(res, 415);
    });

    it('refuses a body larger than MAX_BODY_BYTES with 413, naming body', async () => {
      const res = await ctx.api.post('/api/clients/', { ...valid(), tag: 'x'.repeat(MAX_BODY_BYTES + 1) });
      assertProblem(res, 413, 'body');
    });

    it('refuses an oversized PATCH body with 413, naming body', async () => {
      const client = await ctx.api.createClient();
      const res = await ctx.api.patch(`/api/clients/${client.id}/`, { tag: 'x'.repeat(MAX_BODY_BYTES * 2) });
      assertProblem(res, 413, 'body');
    });
  });

  describe('fields', () => {
    it('refuses a phone number sent as a JSON number, naming phone_number', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), phone_number: 79161234567 }), 400, 'phone_number');
    });

    it('refuses a timezone sent as a JSON number, naming timezone', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), timezone: 3 }), 400, 'timezone');
    });

    it('refuses a tag sent as a JSON boolean, naming tag', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), tag: true }), 400, 'tag');
    });

    it('refuses an unknown field, naming it', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), nickname: 'bob' }), 400, 'nickname');
    });

    it('refuses an id in the body, naming id', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), id: 1 }), 400, 'id');
    });

    it('refuses a missing phone number, naming phone_number', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { timezone: 'UTC' }), 400, 'phone_number');
    });

    it('refuses a missing timezone, naming timezone', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { phone_number: randomPhone() }), 400, 'timezone');
    });

    for (const [why, phone] of [
      ['starts with 8', '89161234567'],
      ['has 10 digits', '7916123456'],
      ['has 12 digits', '791612345678'],
      ['has a leading +', '+79161234567'],
      ['has spaces', '7 916 123 45 67'],
      ['has letters', '7916123456a'],
      ['is empty', ''],
    ]) {
      it(`refuses a phone number that ${why} (not 7 followed by 10 digits), naming phone_number`, async () => {
        assertProblem(await ctx.api.post('/api/clients/', { ...valid(), phone_number: phone }), 400, 'phone_number');
      });
    }

    for (const [why, zone] of [
      ['is free text', 'Moscow time'],
      ['is empty', ''],
      ['is an offset, not a zone name', '+03:00'],
      ['is an unknown zone', 'Mars/Phobos'],
    ]) {
      it(`refuses a timezone that ${why}, naming timezone`, async () => {
        assertProblem(await ctx.api.post('/api/clients/', { ...valid(), timezone: zone }), 400, 'timezone');
      });
    }

    it('refuses a tag longer than 64 characters, naming tag', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), tag: 'x'.repeat(65) }), 400, 'tag');
    });

    it('accepts a tag of exactly 64 characters', async () => {
      const client = await ctx.api.createClient({ tag: 'x'.repeat(64) });
      assert.equal(client.tag, 'x'.repeat(64));
    });

    it('refuses an empty tag, naming tag', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), tag: '' }), 400, 'tag');
    });

    it('refuses a mobile operator code that does not match the phone number with 422, naming mobile_operator_code', async () => {
      const res = await ctx.api.post('/api/clients/', { ...valid(), phone_number: randomPhone('916'), mobile_operator_code: '917' });
      assertProblem(res, 422, 'mobile_operator_code');
    });

    it('refuses a mobile operator code that is not three digits, naming mobile_operator_code', async () => {
      assertProblem(await ctx.api.post('/api/clients/', { ...valid(), mobile_operator_code: '91' }), 400, 'mobile_operator_code');
    });
  });

  describe('conflicts', () => {
    it('refuses a second client with the same phone number with 409, naming phone_number', async () => {
      const first = await ctx.api.createClient();
      assertProblem(await ctx.api.post('/api/clients/', { phone_number: first.phone_number, timezone: 'UTC' }), 409, 'phone_number');
    });

    it("refuses a PATCH to another client's phone number with 409, naming phone_number", async () => {
      const [a, b] = [await ctx.api.createClient(), await ctx.api.createClient()];
      assertProblem(await ctx.api.patch(`/api/clients/${b.id}/`, { phone_number: a.phone_number }), 409, 'phone_number');
    });

    it("refuses a PUT with another client's phone number with 409, naming phone_number", async () => {
      const [a, b] = [await ctx.api.createClient(), await ctx.api.createClient()];
      assertProblem(await ctx.api.put(`/api/clients/${b.id}/`, { phone_number: a.phone_number, timezone: 'UTC' }), 409, 'phone_number');
    });

    it('leaves the client unchanged after a refused PATCH', async () => {
      const [a, b] = [await ctx.api.createClient(), await ctx.api.createClient({ tag: 'unchanged' })];
      await ctx.api.patch(`/api/clients/${b.id}/`, { phone_number: a.phone_number, tag: 'changed' });
      assert.deepEqual((await ctx.api.get(`/api/clients/${b.id}/`)).body, b);
    });
  });

  describe('PATCH bodies', () => {
    it('refuses an empty PATCH {} with 400', async () => {
      const client = await ctx.api.createClient();
      assertProblem(await ctx.api.patch(`/api/clients/${client.id}/`, {}), 400, 'body');
    });

    it('refuses a PATCH of an operator code that does not match the current phone with 422, naming mobile_operator_code', async () => {
      const client = await ctx.api.createClient({ phone_number: randomPhone('916') });
      assertProblem(await ctx.api.patch(`/api/clients/${client.id}/`, { mobile_operator_code: '917' }), 422, 'mobile_operator_code');
    });

    it('refuses a PATCH that sets the phone number to null, naming phone_number', async () => {
      const client = await ctx.api.createClient();
      assertProblem(await ctx.api.patch(`/api/clients/${client.id}/`, { phone_number: null }), 400, 'phone_number');
    });

    it('refuses a PATCH with an unknown field, naming it', async () => {
      const client = await ctx.api.createClient();
      assertProblem(await ctx.api.patch(`/api/clients/${client.id}/`, { email: 'a@b.c' }), 400, 'email');
    });

    it('refuses a PATCH with an unknown zone, naming timezone', async () => {
      const client = await ctx.api.createClient();
      assertProblem(await ctx.api.patch(`/api/clients/${client.id}/`, { timezone: 'Mars/Phobos' }), 400, 'timezone');
    });
  });

  describe('ids', () => {
    const unknown = 9_000_000_000_000;

    it('answers GET of an unknown client with 404', async () => {
      assertProblem(await ctx.api.get(`/api/clients/${unknown}/`), 404);
    });

    it('answers PUT of an unknown client with 404', async () => {
      assertProblem(await ctx.api.put(`/api/clients/${unknown}/`, valid()), 404);
    });

    it('answers PATCH of an unknown client with 404', async () => {
      assertProblem(await ctx.api.patch(`/api/clients/${unknown}/`, { tag: 'x' }), 404);
    });

    it('answers DELETE of an unknown client with 404', async () => {
      assertProblem(await ctx.api.delete(`/api/clients/${unknown}/`), 404);
    });

    for (const id of ['abc', '1.5', '0', '-1', '9007199254740992']) {
      it(`refuses the non-id "${id}" in the path with 400, naming path.id`, async () => {
        assertProblem(await ctx.api.get(`/api/clients/${id}/`), 400, 'path.id');
      });
    }

    it('refuses a non-integer id on PATCH with 400, naming path.id', async () => {
      assertProblem(await ctx.api.patch('/api/clients/abc/', { tag: 'x' }), 400, 'path.id');
    });

    it('refuses a non-integer id on DELETE with 400, naming path.id', async () => {
      assertProblem(await ctx.api.delete('/api/clients/abc/'), 400, 'path.id');
    });
  });

  describe('list queries', () => {
    for (const limit of ['0', '1001', '-5', 'abc', '2.5']) {
      it(`refuses limit=${limit} with 400, naming query.limit`, async () => {
        assertProblem(await ctx.api.get(`/api/clients/?limit=${limit}`), 400, 'query.limit');
      });
    }

    it('refuses a cursor that is not a number with 400, naming query.cursor', async () => {
      assertProblem(await ctx.api.get('/api/clients/?cursor=abc'), 400, 'query.cursor');
    });

    it('refuses a tag filter longer than 64 characters with 400, naming query.tag', async () => {
      assertProblem(await ctx.api.get(`/api/clients/?tag=${'x'.repeat(65)}`), 400, 'query.tag');
    });

    it('refuses a mobile_operator_code filter that is not three digits with 400, naming query.mobile_operator_code', async () => {
      assertProblem(await ctx.api.get('/api/clients/?mobile_operator_code=91a'), 400, 'query.mobile_operator_code');
    });

    it('refuses limit given twice with 400, naming query.limit', async () => {
      assertProblem(await ctx.api.get('/api/clients/?limit=1&limit=2'), 400, 'query.limit');
    });
  });
});
