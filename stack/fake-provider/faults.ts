/** The fake provider's fault model: its outcomes, the faults that choose among them, and the seeded draw. */
import Ajv from 'ajv';

/** What the fake answered; a request that got a fault still counts as received. */
export const OUTCOMES = ['ok', 'hang', 'reset', '5xx', '4xx', '429', 'malformed', 'wrong-shape', 'code'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Each `…Rate` is a share (0..1) of requests; the shares must add up to at most 1. */
export interface Faults {
  /** Delay before answering: fixed, or drawn uniformly from [min, max]. */
  latencyMs?: number | { min: number; max: number };
  /** Never answered; the socket stays open until the client gives up. */
  hangRate?: number;
  /** Headers and part of the body are written, then the connection is destroyed. */
  resetRate?: number;
  errorRate?: number;
  /** Default: a 500 / 502 / 503 mix. */
  errorStatus?: number;
  clientErrorRate?: number;
  /** Default: a 400 / 401 / 403 / 422 mix. */
  clientErrorStatus?: number;
  /** 429 with `Retry-After: retryAfterSec` (default 1). */
  rateLimit?: { rate: number; retryAfterSec?: number };
  /** 200 with a body that is not JSON. */
  malformedRate?: number;
  /** 200 with JSON that is not `{code, message}`. */
  wrongShapeRate?: number;
  /** 200 with `{"code": 1, …}`. */
  nonZeroCodeRate?: number;
  /**
   * The listening port is closed (ECONNREFUSED) and open connections dropped until this time, ms
   * since the epoch. The control endpoint shares the port, so it is down too.
   */
  outage?: { untilMs: number };
}

const rate = { type: 'number', minimum: 0, maximum: 1 };
const validateFaults = new Ajv({ allErrors: true }).compile({
  type: 'object',
  additionalProperties: false,
  properties: {
    latencyMs: {
      oneOf: [
        { type: 'number', minimum: 0 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['min', 'max'],
          properties: { min: { type: 'number', minimum: 0 }, max: { type: 'number', minimum: 0 } },
        },
      ],
    },
    hangRate: rate,
    resetRate: rate,
    errorRate: rate,
    errorStatus: { type: 'integer', minimum: 500, maximum: 599 },
    clientErrorRate: rate,
    clientErrorStatus: { type: 'integer', minimum: 400, maximum: 499 },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      required: ['rate'],
      properties: { rate, retryAfterSec: { type: 'integer', minimum: 0 } },
    },
    malformedRate: rate,
    wrongShapeRate: rate,
    nonZeroCodeRate: rate,
    outage: { type: 'object', additionalProperties: false, required: ['untilMs'], properties: { untilMs: { type: 'number' } } },
  },
});

export function checkFaults(input: unknown): Faults {
  if (!validateFaults(input)) {
    throw new RangeError(`invalid faults: ${validateFaults.errors!.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('; ')}`);
  }
  const faults = input as Faults;
  const latency = faults.latencyMs;
  if (typeof latency === 'object' && latency.min > latency.max) throw new RangeError('invalid faults: latencyMs.min exceeds max');
  // A small tolerance so shares like 0.1 + 0.2 + 0.7 are accepted.
  if (bandsOf(faults).reduce((sum, [, r]) => sum + r, 0) > 1 + 1e-9) throw new RangeError('invalid faults: rates add up to more than 1');
  return faults;
}

/** One share of the [0, 1) draw per fault; whatever is left over is answered 'ok'. */
export function bandsOf(f: Faults): [Outcome, number][] {
  const rates: [Outcome, number | undefined][] = [
    ['hang', f.hangRate],
    ['reset', f.resetRate],
    ['5xx', f.errorRate],
    ['4xx', f.clientErrorRate],
    ['429', f.rateLimit?.rate],
    ['malformed', f.malformedRate],
    ['wrong-shape', f.wrongShapeRate],
    ['code', f.nonZeroCodeRate],
  ];
  return rates.filter((band): band is [Outcome, number] => (band[1] ?? 0) > 0);
}

/** Small seedable PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
