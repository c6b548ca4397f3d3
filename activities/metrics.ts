import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What a worker exports, served by `serveMetrics` on METRICS_PORT (worker/main.ts). Labels take only the values listed here. */
export const workerMetrics = new Registry();

const MESSAGE_OUTCOMES = ['sent', 'failed', 'retried', 'expired', 'cancelled'] as const;
export type MessageOutcome = (typeof MESSAGE_OUTCOMES)[number];

/** How a provider request ended: the class of its HTTP status, or why there was none. */
const PROVIDER_RESULTS = ['2xx', '3xx', '4xx', '5xx', 'timeout', 'refused', 'abandoned', 'error'] as const;
export type ProviderResult = (typeof PROVIDER_RESULTS)[number];

/** Why a send batch lost messages it had claimed. */
const LEASE_LOSSES = ['expiring', 'superseded'] as const;
export type LeaseLoss = (typeof LEASE_LOSSES)[number];

const messages = new Counter({
  name: 'mailing_messages_total',
  help: 'Messages by outcome on this worker: sent, failed (refused by the provider), retried (an attempt to repeat later), expired (unsent at the end), cancelled.',
  labelNames: ['outcome'] as const,
  registers: [workerMetrics],
});

const providerRequests = new Histogram({
  name: 'mailing_provider_request_duration_seconds',
  help: 'Duration of provider requests by result: the HTTP status class, or timeout, refused (connection refused, provider down), abandoned (end or cancellation), error.',
  labelNames: ['result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [workerMetrics],
});

// Read at scrape time: a gauge's inc and dec on every request cost more than the count itself.
let requestsInFlight = 0;
new Gauge({
  name: 'mailing_provider_requests_in_flight',
  help: 'Provider requests started and not yet answered on this worker.',
  registers: [workerMetrics],
  collect() {
    this.set(requestsInFlight);
  },
});

const rateLimitWaits = new Counter({
  name: 'mailing_rate_limit_waits_total',
  help: 'Times this worker found the shared SEND_RATE_LIMIT bucket empty and waited for it to refill.',
  registers: [workerMetrics],
});

const rateLimitWaitSeconds = new Counter({
  name: 'mailing_rate_limit_wait_seconds_total',
  help: 'Time this worker spent waiting for the shared SEND_RATE_LIMIT bucket.',
  registers: [workerMetrics],
});

const outageBackoffs = new Counter({
  name: 'mailing_outage_backoffs_total',
  help: 'Send batches that stopped because the provider refused SEND_OUTAGE_THRESHOLD connections in a row; the mailing then backs off.',
  registers: [workerMetrics],
});

const claimed = new Counter({
  name: 'mailing_messages_claimed_total',
  help: 'Due messages leased to send batches on this worker.',
  registers: [workerMetrics],
});

const leasesLost = new Counter({
  name: 'mailing_leases_lost_total',
  help: 'Claimed messages a batch lost: expiring (left unsent, their lease about to run out), superseded (the answer came after the claim no longer held the message).',
  labelNames: ['reason'] as const,
  registers: [workerMetrics],
});

// Every label value is exported from the start, so rates and sums see a 0 before the first event.
for (const outcome of MESSAGE_OUTCOMES) messages.inc({ outcome }, 0);
for (const result of PROVIDER_RESULTS) providerRequests.zero({ result });
// Bound once: looking a label set up on every observation cost about 10 µs per provider request.
const requestsBy = Object.fromEntries(PROVIDER_RESULTS.map((result) => [result, providerRequests.labels({ result })])) as unknown as Record<ProviderResult, { observe(seconds: number): void }>;
for (const reason of LEASE_LOSSES) leasesLost.inc({ reason }, 0);

// Bound once as well: one outcome is counted per message.
const messagesBy = Object.fromEntries(MESSAGE_OUTCOMES.map((outcome) => [outcome, messages.labels({ outcome })])) as unknown as Record<MessageOutcome, { inc(count: number): void }>;

export const countOutcome = (outcome: MessageOutcome, count = 1) => messagesBy[outcome].inc(count);

/** Starts timing a provider request; call the result with how it ended. */
export function timeProviderRequest(): (result: ProviderResult) => void {
  requestsInFlight++;
  const startedAt = performance.now();
  return (result) => {
    requestsInFlight--;
    requestsBy[result].observe((performance.now() - startedAt) / 1000);
  };
}

export function countRateLimitWait(ms: number): void {
  rateLimitWaits.inc();
  rateLimitWaitSeconds.inc(ms / 1000);
}

export const countOutageBackoff = () => outageBackoffs.inc();
export const countClaimed = (count: number) => claimed.inc(count);
export const countLeasesLost = (reason: LeaseLoss, count: number) => leasesLost.inc({ reason }, count);
