import assert from 'node:assert/strict';
import { assertProblem, futureWindow, randomPhone, useApi } from '../support/api';

/**
 * No odd input makes the API fail: every one below is invalid and must be answered 4xx (the client's
 * fault), never 5xx. `Api.request` also fails on any 5xx and checks each problem against the spec.
 */

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Whole bodies that are not what any write operation takes. */
const oddBodies: [string, string][] = [
  ['a JSON array', '[]'],
  ['an array of the right object', '[{"text": "x"}]'],
  ['JSON null', 'null'],
  ['a bare JSON number', '12'],
  ['an array nested 4000 deep', '['.repeat(4000) + ']'.repeat(4000)],
  ['an object nested 1500 deep', '{"a":'.repeat(1500) + '1' + '}'.repeat(1500)],
  ['a __proto__ key', '{"__proto__": {"isAdmin": true}}'],
  ['a constructor.prototype key', '{"constructor": {"prototype": {"isAdmin": true}}}'],
  ['a number too big for a double', '1e400'],
  ['a UTF-8 byte order mark before the JSON', '\ufeff{}'],
  ['duplicate keys', '{"text": "a", "text": ""}'],
];

/** Raw JSON values that no field of a client or mailing accepts. */
const oddValues: [string, string][] = [
  ['null', 'null'],
  ['an empty array', '[]'],
  ['an array of strings', '["79161234567"]'],
  ['an object nested 500 deep', '{"a":'.repeat(500) + '1' + '}'.repeat(500)],
  ['a number too big for a double', '1e400'],
  ['a 30-digit integer', '123456789012345678901234567890'],
  ['-0', '-0'],
  ['true', 'true'],
  ['an object with a __proto__ key', '{"__proto__": {"x": 1}}'],
  ['a 10 000-character string', JSON.stringify('9'.repeat(10_000))],
];

/** Strings that look plausible to a human but are invalid for the named field. */
const oddStrings: Record<string, [string, string][]> = {
  phone_number: [
    ['Arabic-Indic digits', '٧٩١٦١٢٣٤٥٦٧'],
    ['full-width digits', '７９１６１２３４５６７'],
    ['a trailing newline', `${randomPhone()}\n`],
    ['a NUL byte', '7916123\u00004567'],
  ],
  timezone: [
    ['a Cyrillic zone name', 'Европа/Москва'],
    ['a path traversal', '../../etc/passwd'],
    ['a NUL byte', 'Europe/Moscow\u0000'],
    ['a POSIX TZ rule', 'MSK-3'],
  ],
  tag: [
    ['65 emoji', '😀'.repeat(65)],
    ['a NUL byte', 'vip\u0000'],
  ],
  mobile_operator_code: [
    ['Arabic-Indic digits', '٩١٦'],
    ['a NUL byte', '91\u0000'],
  ],
  start_at: [
    ['a leap second', '2099-12-31T23:59:60Z'],
    ['an hours-only offset', '2099-12-01T10:00:00+03'],
    ['year 0000', '0000-01-01T00:00:00Z'],
    ['a NUL byte', '2099-12-01T10:00:00Z\u0000'],
  ],
  end_at: [
    ['a leap second', '2099-06-30T23:59:60Z'],
    ['a time past year 9999 in UTC', '9999-12-31T23:59:59-12:00'],
    ['a Unix timestamp string', '4102444800'],
  ],
  text: [
    ['a NUL byte', 'Hello\u0000world'],
    ['only non-breaking and ideographic spaces', '\u00a0\u3000'],
    ['1001 emoji', '😀'.repeat(1001)],
  ],
  filter: [
    ['a NUL byte in a tag', '{"tag": "vip\\u0000"}'],
    ['a NUL byte in a tag list', '{"tag": ["a", "b\\u0000"]}'],
    ['a __proto__ key', '{"__proto__": {"tag": "x"}}'],
    ['a list of lists', '{"tag": [["a"]]}'],
    ['101 operator codes', JSON.stringify({ mobile_operator_code: Array.from({ length: 101 }, (_, i) => String(i).padStart(3, '0')) })],
  ],
};

/** `base` as JSON with `field` set to the raw JSON `value`. */
function withRaw(base: Record<string, unknown>, field: string, value: string): string {
  const marker = '"__odd_value__"';
  return JSON.stringify({ ...base, [field]: '__odd_value__' }).replace(marker, () => value);
}

/** `value` as a JSON string literal, unless it is already raw JSON (filters are objects). */
const asJson = (field: string, value: string) => (field === 'filter' ? value : JSON.stringify(value));

describe('no server errors on odd input', () => {
  const ctx = useApi();
  let clientId: number;
  let mailingId: number;

  before(async () => {
    clientId = (await ctx.api.createClient()).id;
    mailingId = (await ctx.api.createMailing()).id;
  });

  const clientBase = () => ({ phone_number: randomPhone(), timezone: 'UTC' });
  const mailingBase = () => ({ ...futureWindow(), text: 'odd input sweep' });

  const targets: { method: 'POST' | 'PUT' | 'PATCH'; name: string; path: () => string; base: () => Record<string, unknown>; fields: string[] }[] = [
    { method: 'POST', name: '/api/clients/', path: () => '/api/clients/', base: clientBase, fields: ['phone_number', 'timezone', 'tag', 'mobile_operator_code'] },
    { method: 'PUT', name: '/api/clients/{id}/', path: () => `/api/clients/${clientId}/`, base: clientBase, fields: ['phone_number', 'timezone', 'tag'] },
    { method: 'PATCH', name: '/api/clients/{id}/', path: () => `/api/clients/${clientId}/`, base: () => ({}), fields: ['phone_number', 'timezone', 'tag', 'mobile_operator_code'] },
    { method: 'POST', name: '/api/mailings/', path: () => '/api/mailings/', base: mailingBase, fields: ['start_at', 'end_at', 'text', 'filter'] },
    { method: 'PUT', name: '/api/mailings/{id}/', path: () => `/api/mailings/${mailingId}/`, base: mailingBase, fields: ['start_at', 'end_at', 'text', 'filter'] },
    { method: 'PATCH', name: '/api/mailings/{id}/', path: () => `/api/mailings/${mailingId}/`, base: () => ({}), fields: ['start_at', 'end_at', 'text', 'filter'] },
  ];

  async function expect4xx(method: string, path: string, raw: string) {
    const res = await ctx.api.request(method, path, { raw, headers: JSON_HEADERS });
    assert.ok(res.status >= 400 && res.status < 500, `expected 4xx, got ${res.status}: ${res.text.slice(0, 300)}`);
  }

  for (const target of targets) {
    describe(`${target.method} ${target.name}`, () => {
      for (const [what, raw] of oddBodies) {
        it(`answers 4xx to a body that is ${what}`, () => expect4xx(target.method, target.path(), raw));
      }
      for (const field of target.fields) {
        for (const [what, value] of oddValues) {
          if (field === 'tag' && value === 'null') continue; // a null tag is valid: it clears the tag
          it(`answers 4xx when ${field} is ${what}`, () => expect4xx(target.method, target.path(), withRaw(target.base(), field, value)));
        }
        for (const [what, value] of oddStrings[field] ?? []) {
          it(`answers 4xx when ${field} has ${what}`, () => expect4xx(target.method, target.path(), withRaw(target.base(), field, asJson(field, value))));
        }
      }
    });
  }
});

describe('no server errors on odd requests', () => {
  const ctx = useApi();

  for (const path of ['/api/messages/%/', '/api/clients/%E0%A4%A/', '/api/mailings/%zz/info/']) {
    it(`answers 400 naming the path to ${path} (a malformed percent-encoding)`, async () => {
      const res = await ctx.api.get(path);
      assertProblem(res, 400);
      assert.deepEqual(res.body.errors?.map((e: { field: string }) => e.field), ['path']);
    });
  }

  it('answers 400 naming the path to a DELETE with a malformed percent-encoding, and deletes nothing', async () => {
    const mailing = await ctx.api.createMailing();
    const res = await ctx.api.request('DELETE', `/api/mailings/${mailing.id}%/`);
    assertProblem(res, 400);
    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/`)).status, 200);
  });

  it('answers 400 naming the body to a body that says it is gzip and is not', async () => {
    const res = await ctx.api.request('POST', '/api/mailings/preview/', { raw: '{"filter": {}}', headers: { ...JSON_HEADERS, 'content-encoding': 'gzip' } });
    assertProblem(res, 400);
    assert.deepEqual(res.body.errors?.map((e: { field: string }) => e.field), ['body']);
  });
});

describe('bodies of operations that take none', () => {
  const ctx = useApi();

  it('leaves the body of a DELETE unread, whatever its media type: the client is deleted (204)', async () => {
    const client = await ctx.api.createClient();
    const res = await ctx.api.request('DELETE', `/api/clients/${client.id}/`, { raw: 'why not', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 204, res.text);
  });

  it('leaves a malformed JSON body of a pause unread: the mailing is paused (200)', async () => {
    const mailing = await ctx.api.createMailing();
    const res = await ctx.api.request('POST', `/api/mailings/${mailing.id}/pause/`, { raw: '{not json', headers: JSON_HEADERS });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'paused');
  });
});

describe('HEAD', () => {
  const ctx = useApi();

  it('answers what GET would, without the body', async () => {
    const mailing = await ctx.api.createMailing();
    const res = await ctx.api.request('HEAD', `/api/mailings/${mailing.id}/`, { unchecked: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.text, '');
  });

  it('is listed in the Allow header of a 405 where GET is allowed', async () => {
    const res = await ctx.api.request('POST', '/api/mailings/fullinfo/');
    assertProblem(res, 405);
    assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['GET', 'HEAD']);
  });
});
