import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { createProvider, type Delivery, type OutgoingMessage, type Provider } from '../../activities/provider';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';

const TOKEN = 'provider-spec-token';
const TIMEOUT_MS = 300;
const MESSAGE: OutgoingMessage = { id: 42, phone: '79001234567', text: 'hello' };

describe('provider client', () => {
  let fake: FakeProvider;
  let provider: Provider;

  before(async () => {
    fake = await startFakeProvider({ token: TOKEN, seed: 7 });
  });
  beforeEach(() => {
    fake.reset();
    provider = createProvider({ url: fake.url, token: TOKEN, timeoutMs: TIMEOUT_MS, connections: 4 });
  });
  afterEach(() => provider.close());
  after(() => fake.stop());

  const send = (message = MESSAGE, signal = new AbortController().signal) => provider.send(message, signal);

  describe('the request', () => {
    it('is a POST to /send/{id} with the bearer token and the body {id, phone as an integer, text}', async () => {
      assert.deepEqual(await send(), { result: 'sent' });
      const [{ msgId, phone, text }] = fake.received();
      assert.deepEqual({ msgId, phone, text }, { msgId: 42, phone: 79001234567, text: 'hello' });
    });

    it('is refused by the provider with 401 when the token is wrong, which is retried as unauthorized', async () => {
      const stranger = createProvider({ url: fake.url, token: 'wrong', timeoutMs: TIMEOUT_MS, connections: 1 });
      try {
        const delivery = await stranger.send(MESSAGE, new AbortController().signal);
        assert.equal(delivery.result, 'retry');
        assert.equal((delivery as Extract<Delivery, { result: 'retry' }>).unauthorized, true);
        assert.match((delivery as Extract<Delivery, { result: 'retry' }>).error, /401/);
      } finally {
        await stranger.close();
      }
    });

    it('accepts a base URL with a trailing slash', async () => {
      const slashed = createProvider({ url: `${fake.url}/`, token: TOKEN, timeoutMs: TIMEOUT_MS, connections: 1 });
      try {
        assert.deepEqual(await slashed.send(MESSAGE, new AbortController().signal), { result: 'sent' });
      } finally {
        await slashed.close();
      }
    });
  });

  describe('a request that cannot be made', () => {
    it('fails for good, as ProviderMisconfigured, when the token has a character no header may carry', async () => {
      const misconfigured = createProvider({ url: fake.url, token: 'line\nbreak', timeoutMs: TIMEOUT_MS, connections: 1 });
      try {
        await assert.rejects(misconfigured.send(MESSAGE, new AbortController().signal), (error: unknown) => {
          assert.ok(error instanceof ApplicationFailure);
          assert.deepEqual([error.type, error.nonRetryable], ['ProviderMisconfigured', true]);
          assert.match(error.message, /SEND_API_TOKEN/);
          return true;
        });
        assert.equal(fake.received().length, 0);
      } finally {
        await misconfigured.close();
      }
    });
  });

  describe('an answer', () => {
    it('of 200 with code 0 is sent', async () => {
      assert.deepEqual(await send(), { result: 'sent' });
    });

    it('that never comes is retried once the client timeout has passed', async () => {
      fake.setFaults({ hangRate: 1 });
      const started = Date.now();
      const delivery = await send();
      const elapsed = Date.now() - started;
      assert.equal(delivery.result, 'retry');
      assert.ok(!('unreachable' in delivery && delivery.unreachable), 'a timeout is not an outage');
      // One sweeping timer checks every request's deadline every 50 ms.
      assert.ok(elapsed >= TIMEOUT_MS - 20 && elapsed < TIMEOUT_MS + 200, `took ${elapsed} ms`);
      assert.equal(fake.received().length, 1);
    });

    it('that never comes is waited for the whole timeout by every request of one caller, however late each started', async () => {
      fake.setFaults({ hangRate: 1 });
      const caller = new AbortController().signal;
      const timed = async () => {
        const started = Date.now();
        const delivery = await provider.send(MESSAGE, caller);
        return { delivery, elapsed: Date.now() - started };
      };
      const early = timed();
      await sleep(40);
      const late = await timed();
      assert.deepEqual(late.delivery, { result: 'retry', error: 'provider did not answer in time' });
      assert.ok(late.elapsed >= TIMEOUT_MS - 5 && late.elapsed < TIMEOUT_MS + 200, `the later request took ${late.elapsed} ms`);
      assert.deepEqual((await early).delivery, { result: 'retry', error: 'provider did not answer in time' });
    });

    it('that trickles its body byte by byte is cut at one total deadline, not one per phase', async () => {
      // Headers at once, then a byte every 100 ms: each phase keeps within its own timeout, the whole never ends.
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const drip = setInterval(() => res.write(' '), 100);
        res.on('close', () => clearInterval(drip));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const dripping = createProvider({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: TOKEN, timeoutMs: TIMEOUT_MS, connections: 1 });
      try {
        const started = Date.now();
        const delivery = await dripping.send(MESSAGE, new AbortController().signal);
        const elapsed = Date.now() - started;
        assert.deepEqual(delivery, { result: 'retry', error: 'provider did not answer in time' });
        assert.ok(elapsed < TIMEOUT_MS + 200, `took ${elapsed} ms`);
      } finally {
        await dripping.close();
        server.closeAllConnections();
        server.close();
      }
    });

    it('that never comes is reported as a timeout, not as a request the caller abandoned', async () => {
      fake.setFaults({ hangRate: 1 });
      const delivery = await send();
      assert.equal(delivery.result, 'retry');
      assert.equal((delivery as Extract<Delivery, { result: 'retry' }>).error, 'provider did not answer in time');
    });

    it('cut off by a connection reset is retried', async () => {
      fake.setFaults({ resetRate: 1 });
      const delivery = await send();
      assert.equal(delivery.result, 'retry');
      assert.ok(!(delivery as Extract<Delivery, { result: 'retry' }>).unreachable, 'a reset is not an outage');
    });

    for (const status of [500, 502, 503]) {
      it(`of ${status} is retried`, async () => {
        fake.setFaults({ errorRate: 1, errorStatus: status });
        assert.deepEqual(await send(), { result: 'retry', error: `provider answered ${status}` });
      });
    }

    it('of 200 with a body that is not JSON is retried', async () => {
      fake.setFaults({ malformedRate: 1 });
      assert.deepEqual(await send(), { result: 'retry', error: 'provider answered 200 with a body that is not JSON' });
    });

    it('of 200 with JSON of the wrong shape is retried', async () => {
      fake.setFaults({ wrongShapeRate: 1 });
      assert.deepEqual(await send(), { result: 'retry', error: 'provider answered 200 with an unexpected body' });
    });

    it('of 200 with a code other than 0 is retried', async () => {
      fake.setFaults({ nonZeroCodeRate: 1 });
      assert.deepEqual(await send(), { result: 'retry', error: 'provider answered code 1' });
    });

    it('of 429 is retried after the delay of its Retry-After header', async () => {
      fake.setFaults({ rateLimit: { rate: 1, retryAfterSec: 5 } });
      const delivery = await send();
      assert.equal(delivery.result, 'retry');
      assert.equal((delivery as Extract<Delivery, { result: 'retry' }>).retryAfterMs, 5000);
    });

    for (const status of [401, 403]) {
      it(`of ${status} is retried and flagged unauthorized`, async () => {
        fake.setFaults({ clientErrorRate: 1, clientErrorStatus: status });
        const delivery = await send();
        assert.equal(delivery.result, 'retry');
        assert.equal((delivery as Extract<Delivery, { result: 'retry' }>).unauthorized, true);
      });
    }

    for (const status of [400, 422]) {
      it(`of ${status} fails the message`, async () => {
        fake.setFaults({ clientErrorRate: 1, clientErrorStatus: status });
        const delivery = await send();
        assert.equal(delivery.result, 'failed');
        assert.match((delivery as Extract<Delivery, { result: 'failed' }>).error, new RegExp(`\\(${status}\\)`));
      });
    }
  });

  describe('during an outage (the port is closed)', () => {
    it('a request is retried and flagged unreachable', async () => {
      const down = await startFakeProvider({ token: TOKEN });
      const client = createProvider({ url: down.url, token: TOKEN, timeoutMs: TIMEOUT_MS, connections: 1 });
      try {
        down.outage(10_000);
        const delivery = await client.send(MESSAGE, new AbortController().signal);
        assert.equal(delivery.result, 'retry');
        assert.equal((delivery as Extract<Delivery, { result: 'retry' }>).unreachable, true);
        assert.match((delivery as Extract<Delivery, { result: 'retry' }>).error, /ECONNREFUSED/);
      } finally {
        await client.close();
        await down.stop();
      }
    });
  });

  describe('a signal', () => {
    it('already aborted makes the send a retry without any request reaching the provider', async () => {
      const controller = new AbortController();
      controller.abort(new Error('batch cancelled'));
      const delivery = await send(MESSAGE, controller.signal);
      assert.deepEqual(delivery, { result: 'retry', error: 'request abandoned: batch cancelled' });
      await sleep(50);
      assert.equal(fake.received().length, 0);
    });

    it('aborted while the provider is answering abandons the request at once', async () => {
      fake.setFaults({ latencyMs: 5_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('end of the mailing')), 50);
      const started = Date.now();
      const delivery = await send(MESSAGE, controller.signal);
      assert.deepEqual(delivery, { result: 'retry', error: 'request abandoned: end of the mailing' });
      assert.ok(Date.now() - started < TIMEOUT_MS, 'did not wait for the client timeout');
    });
  });
});
