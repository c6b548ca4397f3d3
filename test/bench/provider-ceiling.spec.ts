import assert from 'node:assert/strict';
import { providerCeiling } from '../../bench/provider-ceiling';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';

const TOKEN = 'ceiling-test';
const LATENCY_MS = 20;
const CONNECTIONS = 4;

/** The benchmark's provider ceiling: a load tool alone against the fake provider, in its own process. */
describe("the benchmark's provider ceiling", function () {
  this.timeout(60_000);
  let provider: FakeProvider;

  before(async () => {
    provider = await startFakeProvider({ token: TOKEN });
    provider.setFaults({ latencyMs: LATENCY_MS });
  });

  after(() => provider?.stop());

  it('keeps its requests in flight on the provider, so it never answers more than the provider allows', async () => {
    const ceiling = await providerCeiling({ url: provider.url, token: TOKEN }, CONNECTIONS, { warmupSeconds: 1, seconds: 2 });

    assert.equal(ceiling.failed, 0);
    assert.ok(ceiling.rate > 0 && ceiling.rate <= (CONNECTIONS * 1000) / LATENCY_MS, `${ceiling.rate}/s with ${CONNECTIONS} in flight at ${LATENCY_MS} ms`);
    // The provider's timer counts from its event loop's cached time, which may lag the request's arrival a little.
    assert.ok(ceiling.latencyMeanMs >= LATENCY_MS - 1, `mean answer time ${ceiling.latencyMeanMs} ms`);
    assert.ok(provider.received().length >= ceiling.rate * 2, 'the provider recorded the measured requests');
  });

  it('counts the requests the provider refuses as failed', async () => {
    const ceiling = await providerCeiling({ url: provider.url, token: 'wrong' }, CONNECTIONS, { warmupSeconds: 1, seconds: 1 });

    assert.ok(ceiling.failed > 0);
  });
});
