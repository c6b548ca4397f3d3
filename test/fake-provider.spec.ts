import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startFakeProvider, type FakeProvider, type Faults } from '../stack/fake-provider';

const TOKEN = 'test-token';
const PHONE = 79001234567;

describe('fake provider', () => {
  let provider: FakeProvider;

  before(async () => {
    provider = await startFakeProvider({ token: TOKEN, seed: 1 });
  });
  beforeEach(() => provider.reset());
  after(() => provider.stop());

  async function send(msgId: number, { body = { id: msgId, phone: PHONE, text: 'hello' } as unknown, token = TOKEN, timeoutMs = 2000 } = {}) {
    const res = await request(`${provider.url}/send/${msgId}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  async function control(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) {
    const res = await request(new URL(path, provider.url).href, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  }

  function connect(url: string) {
    const { hostname, port } = new URL(url);
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      socket.once('error', reject).once('connect', () => {
        socket.destroy();
        resolve();
      });
    });
  }

  /** Outcomes in draw order, which is arrival order whatever msgId each request carries. */
  async function outcomesOf(faults: Faults, requests: number) {
    provider.setFaults(faults);
    for (let id = 1; id <= requests; id += 20) await Promise.all(Array.from({ length: 20 }, (_, i) => send(id + i)));
    return provider.received().map((r) => r.outcome);
  }

  describe('a valid request', () => {
    it('is answered 200 with code 0', async () => {
      const res = await send(7);
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.text), { code: 0, message: 'OK' });
    });

    it('is recorded with its msgId, phone, text, arrival time and outcome', async () => {
      const before = Date.now();
      await send(7);
      const [{ at, ...entry }] = provider.received();
      assert.deepEqual(entry, { msgId: 7, phone: PHONE, text: 'hello', outcome: 'ok' });
      assert.ok(at >= before && at <= Date.now());
    });

    it('is counted once per send, so a resent msgId counts twice', async () => {
      await send(7);
      await send(7);
      await send(8);
      assert.deepEqual([...provider.countsByMsgId()], [[7, 2], [8, 1]]);
    });
  });

  describe('an invalid request', () => {
    it('is answered 401 when the bearer token is wrong', async () => {
      assert.equal((await send(7, { token: 'other' })).status, 401);
    });

    it('is answered 401 when the bearer token is missing', async () => {
      const res = await request(`${provider.url}/send/7`, { method: 'POST', body: JSON.stringify({ id: 7, phone: PHONE, text: 'hello' }) });
      await res.body.dump();
      assert.equal(res.statusCode, 401);
    });

    it('is answered 400 when the body is not JSON', async () => {
      const res = await request(`${provider.url}/send/7`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: 'id=7' });
      await res.body.dump();
      assert.equal(res.statusCode, 400);
    });

    it('is answered 400 when the phone is not an integer 7XXXXXXXXXX', async () => {
      assert.equal((await send(7, { body: { id: 7, phone: '79001234567', text: 'hello' } })).status, 400);
      assert.equal((await send(7, { body: { id: 7, phone: 89001234567, text: 'hello' } })).status, 400);
    });

    it('is answered 400 when the text is missing', async () => {
      assert.equal((await send(7, { body: { id: 7, phone: PHONE } })).status, 400);
    });

    it('is answered 400 when the path msgId differs from the body id', async () => {
      assert.equal((await send(7, { body: { id: 8, phone: PHONE, text: 'hello' } })).status, 400);
    });

    it('is dropped harmlessly when the client goes away mid-body', async () => {
      // Mocha swallows unhandled rejections, which would crash a standalone provider: watch for them.
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      try {
        const socket = net.connect(Number(new URL(provider.url).port), '127.0.0.1');
        socket.write(`POST /v1/send/7 HTTP/1.1\r\nhost: fake\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 100\r\n\r\n{"id":7`, () => socket.destroy());
        await new Promise((resolve) => socket.once('close', resolve));
        assert.equal((await send(7)).status, 200);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
      assert.deepEqual(rejections, []);
    });

    it('is not recorded', async () => {
      await send(7, { token: 'other' });
      await send(7, { body: { id: 8, phone: PHONE, text: 'hello' } });
      assert.deepEqual(provider.received(), []);
    });
  });

  it('accepts any bearer token when started without one', async () => {
    const open = await startFakeProvider();
    try {
      const res = await request(`${open.url}/send/7`, { method: 'POST', body: JSON.stringify({ id: 7, phone: PHONE, text: 'hello' }) });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
    } finally {
      await open.stop();
    }
  });

  describe('faults', () => {
    it('delays every answer by a fixed latencyMs', async () => {
      provider.setFaults({ latencyMs: 60 });
      const started = performance.now();
      assert.equal((await send(7)).status, 200);
      assert.ok(performance.now() - started >= 55);
    });

    it('delays every answer by a latencyMs drawn from {min, max}', async () => {
      provider.setFaults({ latencyMs: { min: 30, max: 50 } });
      const started = performance.now();
      await send(7);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 25 && elapsed < 200, `took ${elapsed} ms`);
    });

    it('never answers a hung request, yet records it as received', async () => {
      provider.setFaults({ hangRate: 1 });
      await assert.rejects(send(7, { timeoutMs: 100 }), { name: 'TimeoutError' });
      assert.deepEqual(provider.received().map((r) => [r.msgId, r.outcome]), [[7, 'hang']]);
    });

    it('drops the connection after the headers at resetRate', async () => {
      provider.setFaults({ resetRate: 1 });
      await assert.rejects(send(7), { code: 'UND_ERR_SOCKET' });
      assert.equal(provider.received()[0].outcome, 'reset');
    });

    it('answers a 500 / 502 / 503 mix at errorRate', async () => {
      provider.setFaults({ errorRate: 1 });
      const statuses = new Set<number>();
      for (let id = 1; id <= 30; id++) statuses.add((await send(id)).status);
      assert.deepEqual([...statuses].sort(), [500, 502, 503]);
      assert.ok(provider.received().every((r) => r.outcome === '5xx'));
    });

    it('answers errorStatus at errorRate when one is set', async () => {
      provider.setFaults({ errorRate: 1, errorStatus: 504 });
      assert.equal((await send(7)).status, 504);
    });

    it('answers clientErrorStatus at clientErrorRate', async () => {
      provider.setFaults({ clientErrorRate: 1, clientErrorStatus: 422 });
      assert.equal((await send(7)).status, 422);
      assert.equal(provider.received()[0].outcome, '4xx');
    });

    it('answers 429 with Retry-After at rateLimit.rate', async () => {
      provider.setFaults({ rateLimit: { rate: 1, retryAfterSec: 3 } });
      const res = await send(7);
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '3');
      assert.equal(provider.received()[0].outcome, '429');
    });

    it('answers 200 with a body that is not JSON at malformedRate', async () => {
      provider.setFaults({ malformedRate: 1 });
      const res = await send(7);
      assert.equal(res.status, 200);
      assert.throws(() => JSON.parse(res.text), SyntaxError);
      assert.equal(provider.received()[0].outcome, 'malformed');
    });

    it('answers 200 with JSON of the wrong shape at wrongShapeRate', async () => {
      provider.setFaults({ wrongShapeRate: 1 });
      const res = await send(7);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.text).code, undefined);
      assert.equal(provider.received()[0].outcome, 'wrong-shape');
    });

    it('answers 200 with a non-zero code at nonZeroCodeRate', async () => {
      provider.setFaults({ nonZeroCodeRate: 1 });
      const res = await send(7);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.text).code, 1);
      assert.equal(provider.received()[0].outcome, 'code');
    });

    it('answers each fault at about its share', async () => {
      const outcomes = await outcomesOf({ errorRate: 0.2, nonZeroCodeRate: 0.3 }, 400);
      const share = (o: string) => outcomes.filter((x) => x === o).length / outcomes.length;
      assert.ok(Math.abs(share('5xx') - 0.2) < 0.05, `5xx share ${share('5xx')}`);
      assert.ok(Math.abs(share('code') - 0.3) < 0.05, `code share ${share('code')}`);
      assert.ok(Math.abs(share('ok') - 0.5) < 0.05, `ok share ${share('ok')}`);
    });

    it('draws the same outcomes again for the same seed', async () => {
      const faults = { errorRate: 0.3, clientErrorRate: 0.3 };
      const first = await outcomesOf(faults, 20);
      provider.reset();
      assert.deepEqual(await outcomesOf(faults, 20), first);
    });

    it('refuses rates that add up to more than 1', () => {
      assert.throws(() => provider.setFaults({ errorRate: 0.6, hangRate: 0.6 }), RangeError);
    });

    it('are cleared, with the record, by reset()', async () => {
      provider.setFaults({ errorRate: 1 });
      await send(7);
      provider.reset();
      assert.deepEqual(provider.received(), []);
      assert.deepEqual(provider.faults(), {});
      assert.equal((await send(7)).status, 200);
    });
  });

  describe('an outage', () => {
    it('refuses connections, then answers again on the same port once over', async () => {
      provider.outage(150);
      await assert.rejects(connect(provider.url), { code: 'ECONNREFUSED' });
      await sleep(200);
      assert.equal((await send(7)).status, 200);
      assert.equal(provider.faults().outage, undefined);
    });

    it('is ended early by reset()', async () => {
      provider.outage(10_000);
      provider.reset();
      await sleep(20);
      assert.equal((await send(7)).status, 200);
    });
  });

  describe('the control endpoint', () => {
    it('PUT /control/faults sets the faults requests get', async () => {
      assert.equal((await control('PUT', '/control/faults', { errorRate: 1, errorStatus: 503 })).status, 200);
      assert.equal((await send(7)).status, 503);
    });

    it('PUT /control/faults answers 400 to an unknown fault', async () => {
      const res = await control('PUT', '/control/faults', { errRate: 1 });
      assert.equal(res.status, 400);
      assert.match(res.json.message, /errRate/);
    });

    it('PUT /control/faults with an outage answers, then refuses connections', async () => {
      assert.equal((await control('PUT', '/control/faults', { outage: { untilMs: Date.now() + 150 } })).status, 200);
      await assert.rejects(connect(provider.url), { code: 'ECONNREFUSED' });
      await sleep(200);
      assert.equal((await send(7)).status, 200);
    });

    it('GET /control/faults returns the current faults', async () => {
      provider.setFaults({ latencyMs: { min: 1, max: 2 }, rateLimit: { rate: 0.1 } });
      assert.deepEqual((await control('GET', '/control/faults')).json, { latencyMs: { min: 1, max: 2 }, rateLimit: { rate: 0.1 } });
    });

    it('GET /control/received summarises the record', async () => {
      await send(7);
      await send(7);
      provider.setFaults({ errorRate: 1 });
      await send(8);
      assert.deepEqual((await control('GET', '/control/received')).json, {
        total: 3,
        distinctMsgIds: 2,
        byOutcome: { ok: 2, hang: 0, reset: 0, '5xx': 1, '4xx': 0, '429': 0, malformed: 0, 'wrong-shape': 0, code: 0 },
      });
    });

    it('GET /control/received?msgId= also lists that msgId’s requests', async () => {
      await send(7);
      await send(8);
      const { json } = await control('GET', '/control/received?msgId=8');
      assert.deepEqual(
        json.entries.map((e: { msgId: number; phone: number; text: string; outcome: string }) => [e.msgId, e.phone, e.text, e.outcome]),
        [[8, PHONE, 'hello', 'ok']],
      );
    });

    it('DELETE /control/received clears the record but keeps the faults', async () => {
      provider.setFaults({ errorRate: 1 });
      await send(7);
      assert.equal((await control('DELETE', '/control/received')).status, 204);
      assert.deepEqual(provider.received(), []);
      assert.deepEqual(provider.faults(), { errorRate: 1 });
    });
  });
});
