import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { runMain } from '../stack/process/script';

/**
 * The load generator of the API-under-load scenario, run by bench/api-scenario.ts as its own process
 * so that it does not share an event loop with what it measures. Reads its plan from BENCH_LOAD (JSON),
 * runs autocannon (pinned in package.json) and prints a JSON line when the load starts and one when it
 * ends (autocannon's result and the raw latencies per kind of request), then exits once its stdin
 * closes, so that the benchmark can read its CPU time while it is still there.
 *
 * One autocannon instance per connection, each at its share of the rate, their starts spread over the
 * first second: autocannon's rate limit lets a connection send its share of a second back to back
 * from the start of each second and then wait, so connections started together would hit the API in
 * one burst each second. The results are combined by autocannon.aggregateResult. Its
 * coordinated-omission correction is turned off: with a rate under 1,000 per connection it records
 * each response as if 1 ms apart (Math.ceil(1 / rate)), which pads the histogram with fast fake values.
 *
 * The load first runs `rampSeconds` unmeasured: its connections open and the tool starts up (a quarter
 * of a core in its first second), and the API meets the burst of 40 new connections. The measured
 * `seconds` follow; the percentiles of the whole load, ramp included, are reported beside them.
 */

export interface LoadPlan {
  url: string;
  requests: { label: string; path: string }[];
  rate: number;
  connections: number;
  /** Unmeasured, before the measured `seconds`. */
  rampSeconds: number;
  seconds: number;
}

export interface LatencyStats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  /** autocannon's own histogram and counts, over the whole load (ramp included). */
  autocannon: {
    latency: Record<string, number>;
    requests: number;
    durationS: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    statusCodes: Record<string, number>;
  };
  /** The response times of the measured seconds, per kind of request and `all`. */
  byLabel: Record<string, LatencyStats>;
  /** All response times, ramp included. */
  withRamp: LatencyStats;
  /** The slowest response of each measured second. */
  slowestBySecond: number[];
  measuredSeconds: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : NaN;
}

function stats(values: number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

async function main() {
  const plan = JSON.parse(process.env.BENCH_LOAD ?? '') as LoadPlan;
  const labels = new Map(plan.requests.map((r) => [r.path, r.label]));
  const samples = new Map<string, number[]>();
  const everyResponse: number[] = [];
  const slowestBySecond: number[] = [];
  const perConnection = plan.rate / plan.connections;
  if (!Number.isInteger(perConnection)) throw new Error(`the rate (${plan.rate}) must be a multiple of the connections (${plan.connections})`);
  const started = Date.now();
  const measuredFrom = started + plan.rampSeconds * 1000;
  const measuredUntil = measuredFrom + plan.seconds * 1000;
  // The measured window opens once the ramp is over: the benchmark reads CPU times from this line.
  setTimeout(() => process.stdout.write(`${JSON.stringify({ event: 'start' })}\n`), measuredFrom - Date.now());
  const run = (i: number) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      // Each connection starts with another kind of request, so the kinds are mixed at every moment.
      const requests = plan.requests.map((_, k) => plan.requests[(k + i) % plan.requests.length]);
      const instance = autocannon(
        {
          url: plan.url,
          connections: 1,
          overallRate: perConnection,
          duration: plan.rampSeconds + plan.seconds,
          ignoreCoordinatedOmission: true,
          skipAggregateResult: true,
          requests: requests.map((r) => ({ method: 'GET', path: r.path })),
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      );
      // The response event comes before the connection moves on to its next request, so the
      // connection's current request is the one answered.
      instance.on('response', (client, _status, _bytes, responseTime) => {
        const path = (client as unknown as { requestIterator?: { currentRequest?: { path?: string } } }).requestIterator?.currentRequest?.path;
        const label = (path !== undefined && labels.get(path)) || 'unknown';
        everyResponse.push(responseTime);
        const now = Date.now();
        if (now < measuredFrom || now >= measuredUntil) return;
        const second = Math.floor((now - measuredFrom) / 1000);
        slowestBySecond[second] = Math.max(slowestBySecond[second] ?? 0, responseTime);
        for (const key of [label, 'all']) {
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key)!.push(responseTime);
        }
      });
    });
  // Staggered over the first second: the connections' bursts (each sends its share of a second back
  // to back, then waits for the next second) follow one another instead of landing together.
  const raw = await Promise.all(Array.from({ length: plan.connections }, (_, i) => sleep((i * 1000) / plan.connections).then(() => run(i))));
  const durationS = (Date.now() - started) / 1000;
  const measuredSeconds = (Math.min(Date.now(), measuredUntil) - measuredFrom) / 1000;
  const aggregate = (autocannon as unknown as { aggregateResult(results: autocannon.Result[], opts: object): autocannon.Result }).aggregateResult;
  const result = aggregate(raw, { url: plan.url, connections: plan.connections });
  const byLabel = Object.fromEntries([...samples].map(([label, values]) => [label, stats(values)]));
  const out: LoadResult & { event: 'result' } = {
    event: 'result',
    autocannon: {
      latency: result.latency as unknown as Record<string, number>,
      requests: raw.reduce((sum, r) => sum + ((r as unknown as { totalCompletedRequests: number }).totalCompletedRequests ?? 0), 0),
      durationS,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: (result as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats
        ? Object.fromEntries(Object.entries((result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats).map(([code, { count }]) => [code, count]))
        : {},
    },
    byLabel,
    withRamp: stats(everyResponse),
    slowestBySecond: Array.from(slowestBySecond, (ms) => ms ?? 0),
    measuredSeconds,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  // Alive until the benchmark has read its CPU time: it closes our stdin then.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
}

runMain(main);
