import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../../config/logger';
import { bandsOf, checkFaults, mulberry32, type Faults, type Outcome } from './faults';
import { Journal, type ReceivedRequest } from './journal';

/**
 * A fake of the SMS provider (`POST {url}/send/{msgId}`), for `npm start` without a real token, tests
 * and the benchmark. It records every valid request it receives and injects faults at configurable
 * shares, settable in-process (`setFaults`) or over HTTP (`/control/...`). Plain `node:http`: the same
 * handler on Koa measured ~2.5x slower, and Koa buys nothing here.
 */

export interface FakeProviderOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  logger?: Logger;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
  /** Seeds the fault draws so a run is reproducible; `reset()` re-seeds. */
  seed?: number;
}

export interface FakeProvider {
  /** Base URL, e.g. `http://127.0.0.1:PORT/v1`; messages go to `${url}/send/${msgId}`. */
  readonly url: string;
  /** Every valid request, in arrival order. Rejected ones (401/400/404) are not recorded. */
  received(): ReceivedRequest[];
  countsByMsgId(): Map<number, number>;
  faults(): Faults;
  /** Replaces the whole fault set; throws a RangeError for an invalid one. */
  setFaults(faults: Faults): void;
  /** Closes the listening port for `ms`, then reopens it on the same port. */
  outage(ms: number): void;
  /** Clears the record and the faults, ends an outage and re-seeds. */
  reset(): void;
  stop(): Promise<void>;
}

const OK_BODY = '{"code":0,"message":"OK"}';
const SEND_PATH = /^\/v1\/send\/(\d+)$/;
const DEFAULT_ERROR_STATUSES = [500, 502, 503];
const DEFAULT_CLIENT_ERROR_STATUSES = [400, 401, 403, 422];

export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const { host = '127.0.0.1', seed = Date.now() } = options;
  const logger = options.logger ?? createLogger('silent', 'fake-provider');
  const auth = options.token === undefined ? undefined : `Bearer ${options.token}`;
  let random = mulberry32(seed);
  let journal = new Journal();
  let current: Faults = {};
  let bands = bandsOf(current);
  let reopenTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const server = http.createServer((req, res) => {
    if (req.url!.startsWith('/control/')) void control(req, res);
    else receive(req, res);
  });
  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;

  function listen(port: number) {
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject).listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  function receive(req: IncomingMessage, res: ServerResponse) {
    const path = req.method === 'POST' ? SEND_PATH.exec(req.url!) : null;
    if (!path) return refuse(res, 404, 'not found');
    if (auth !== undefined && req.headers.authorization !== auth) return refuse(res, 401, 'wrong or missing bearer token');
    void readBody(req).then((raw) => {
      const message = parseMessage(raw);
      if (typeof message === 'string') return refuse(res, 400, message);
      if (message.id !== Number(path[1])) return refuse(res, 400, 'path msgId differs from body id');
      const outcome = draw();
      journal.add(message.id, message.phone, message.text, Date.now(), outcome);
      logger.debug({ messageId: message.id, outcome }, 'fake provider received');
      if (outcome === 'hang') return;
      const delay = latency();
      // unref: a pending answer must not keep a stopped provider's process alive.
      if (delay > 0) setTimeout(answer, delay, res, outcome).unref();
      else answer(res, outcome);
    });
  }

  function refuse(res: ServerResponse, status: number, reason: string) {
    logger.warn({ status, reason }, 'fake provider rejected a request');
    json(res, status, JSON.stringify({ code: status, message: reason }));
  }

  function draw(): Outcome {
    const r = random();
    let edge = 0;
    for (const [outcome, rate] of bands) if (r < (edge += rate)) return outcome;
    return 'ok';
  }

  function latency() {
    const l = current.latencyMs ?? 0;
    return typeof l === 'number' ? l : l.min + random() * (l.max - l.min);
  }

  function answer(res: ServerResponse, outcome: Outcome) {
    switch (outcome) {
      case 'ok':
        return json(res, 200, OK_BODY);
      case 'reset':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK_BODY.length });
        return void res.write(OK_BODY.slice(0, 10), () => res.destroy());
      case '5xx':
        return failure(res, current.errorStatus ?? pick(DEFAULT_ERROR_STATUSES));
      case '4xx':
        return failure(res, current.clientErrorStatus ?? pick(DEFAULT_CLIENT_ERROR_STATUSES));
      case '429':
        return failure(res, 429, { 'retry-after': String(current.rateLimit!.retryAfterSec ?? 1) });
      case 'malformed': // truncated, as by a proxy cutting the answer short
        return json(res, 200, OK_BODY.slice(0, 15));
      case 'wrong-shape':
        return json(res, 200, '{"status":"OK"}');
      case 'code':
        return json(res, 200, '{"code":1,"message":"Temporary failure"}');
      case 'hang':
        return;
    }
  }

  function failure(res: ServerResponse, status: number, headers?: http.OutgoingHttpHeaders) {
    json(res, status, JSON.stringify({ code: status, message: http.STATUS_CODES[status] ?? 'Error' }), headers);
  }

  function pick(statuses: number[]) {
    return statuses[Math.floor(random() * statuses.length)];
  }

  async function control(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://fake');
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /control/faults':
        return json(res, 200, JSON.stringify(current));
      case 'PUT /control/faults': {
        let faults: Faults;
        try {
          faults = checkFaults(JSON.parse(await readBody(req)));
        } catch (err) {
          return json(res, 400, JSON.stringify({ message: (err as Error).message }));
        }
        // Applied once answered: an outage drops every open connection, this one included.
        res.once('close', () => apply(faults));
        return json(res, 200, JSON.stringify(faults));
      }
      case 'GET /control/received': {
        const msgId = url.searchParams.get('msgId');
        if (msgId !== null && !/^\d+$/.test(msgId)) return json(res, 400, JSON.stringify({ message: 'msgId must be an integer' }));
        const summary = { total: journal.length, distinctMsgIds: journal.countsByMsgId().size, byOutcome: journal.byOutcome() };
        return json(res, 200, JSON.stringify(msgId === null ? summary : { ...summary, entries: journal.entries(Number(msgId)) }));
      }
      case 'DELETE /control/received':
        journal = new Journal();
        return void res.writeHead(204).end();
      default:
        return json(res, 404, JSON.stringify({ message: 'not found' }));
    }
  }

  function apply(faults: Faults) {
    current = faults;
    bands = bandsOf(faults);
    logger.info({ faults }, 'fake provider faults set');
    if (faults.outage && faults.outage.untilMs > Date.now()) startOutage(faults.outage.untilMs);
    else endOutage();
  }

  function startOutage(untilMs: number) {
    if (reopenTimer === undefined) {
      server.close();
      server.closeAllConnections();
      logger.info({ untilMs }, 'fake provider outage started');
    }
    clearTimeout(reopenTimer);
    reopenTimer = setTimeout(() => {
      const { outage, ...rest } = current;
      apply(rest);
    }, untilMs - Date.now());
  }

  function endOutage() {
    if (reopenTimer === undefined || stopped) return;
    clearTimeout(reopenTimer);
    reopenTimer = undefined;
    listen(port).then(
      () => logger.info('fake provider outage ended'),
      (err) => logger.error({ err }, 'fake provider could not reopen its port'),
    );
  }

  return {
    url: `http://${host}:${port}/v1`,
    received: () => journal.entries(),
    countsByMsgId: () => journal.countsByMsgId(),
    faults: () => current,
    setFaults: (faults) => apply(checkFaults(faults)),
    outage: (ms) => apply({ ...current, outage: { untilMs: Date.now() + ms } }),
    reset() {
      journal = new Journal();
      random = mulberry32(seed);
      apply({});
    },
    async stop() {
      stopped = true;
      clearTimeout(reopenTimer);
      // Also drops hung requests; the callback gets an error if an outage had already closed the port.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function json(res: ServerResponse, status: number, body: string, headers?: http.OutgoingHttpHeaders) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Never settles if the client goes away mid-body: there is no one left to answer. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk)).once('end', () => resolve(body));
  });
}

/** The documented body: `{"id": <integer>, "phone": <integer 7XXXXXXXXXX>, "text": <string>}`. */
function parseMessage(raw: string): { id: number; phone: number; text: string } | string {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return 'body is not JSON';
  }
  if (!Number.isSafeInteger(body?.id) || body.id < 0) return 'id must be a non-negative integer';
  if (!Number.isSafeInteger(body.phone) || body.phone < 7e10 || body.phone >= 8e10) return 'phone must be an integer 7XXXXXXXXXX';
  if (typeof body.text !== 'string') return 'text must be a string';
  return body;
}
