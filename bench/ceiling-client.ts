import autocannon from 'autocannon';
import { runMain } from '../stack/process/script';

/**
 * How fast any client gets answers from the fake provider on this machine: autocannon, in its own
 * process, keeps `connections` requests in flight (the service's SEND_CONCURRENCY) with nothing else
 * running, after an unmeasured warm-up. Run by bench/provider-ceiling.ts; reads its plan from
 * BENCH_CEILING (JSON) and prints one JSON line with the result.
 */

export interface CeilingPlan {
  /** The provider's base URL, as SEND_API_URL. */
  url: string;
  token: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface CeilingResult {
  /** Answers per second over the measured time. */
  rate: number;
  latencyMeanMs: number;
  latencyP99Ms: number;
  /** Answers that were not 2xx, and requests that got none. */
  failed: number;
}

async function main() {
  const plan = JSON.parse(process.env.BENCH_CEILING ?? '') as CeilingPlan;
  const load = (duration: number) =>
    autocannon({
      url: `${plan.url}/send/1`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${plan.token}` },
      body: JSON.stringify({ id: 1, phone: 70000000001, text: 'Benchmark message' }),
      connections: plan.connections,
      duration,
    });
  // Unmeasured: the tool's code and the provider's are compiled first (the measured run opens its own connections).
  await load(plan.warmupSeconds);
  const result = await load(plan.seconds);
  const ceiling: CeilingResult = {
    rate: result.requests.total / result.duration,
    latencyMeanMs: result.latency.mean,
    latencyP99Ms: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
  process.stdout.write(`${JSON.stringify(ceiling)}\n`);
}

runMain(main);
