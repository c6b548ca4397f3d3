import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import Ajv from 'ajv';
import type OpenAPIBackend from 'openapi-backend';
import { Model } from 'objection';
import { loadConfig, sendLimits } from '../../config';
import { createLogger } from '../../config/logger';
import { createApp } from '../../api/app';
import { createContract } from '../../api/contract';
import { createMailingService } from '../../domain/mailings';
import { connectDatabase, type Database } from '../../storage/database';

/**
 * The real Koa app in-process on a free port, with the real services: PostgreSQL and Temporal from the
 * test stack (test/support/hooks.ts). No worker runs: a created mailing gets a started workflow on a task
 * queue that nobody polls, so it stays `scheduled`.
 *
 * Every answer of `api.request()` is checked against openapi.yaml: the status must be declared for the
 * operation, JSON bodies must match the declared schema, and problems must be `application/problem+json`
 * bodies that match the Problem schema.
 */

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON for JSON bodies, the text otherwise, null when empty. */
  body: T;
  text: string;
}

export interface RequestOptions {
  /** Serialised as JSON unless `raw` is given. */
  json?: unknown;
  /** Sent as is. */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Skip the spec check (for answers that are not part of the API, like /docs/). */
  unchecked?: boolean;
}

const PROBLEM_TYPE = 'application/problem+json';

/** One per run, so that no worker of another test picks up the mailings these tests create. */
export const TASK_QUEUE = `api-tests-${process.pid}-${randomUUID().slice(0, 8)}`;

/** Small enough for the tests to be quick, big enough for them to send bodies of a few kilobytes. */
export const MAX_BODY_BYTES = 16 * 1024;

export class Api {
  readonly created = { clients: new Set<number>() };

  constructor(
    readonly baseUrl: string,
    readonly db: Database,
    private readonly contract: OpenAPIBackend,
    private readonly validateProblem: ReturnType<Ajv['compile']>,
  ) {}

  get = (path: string, options?: RequestOptions) => this.request('GET', path, options);
  post = (path: string, json?: unknown, options?: RequestOptions) => this.request('POST', path, { json, ...options });
  put = (path: string, json?: unknown, options?: RequestOptions) => this.request('PUT', path, { json, ...options });
  patch = (path: string, json?: unknown, options?: RequestOptions) => this.request('PATCH', path, { json, ...options });
  delete = (path: string, options?: RequestOptions) => this.request('DELETE', path, options);

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Uint8Array | undefined = options.raw;
    if (body === undefined && options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    const isJson = /^application\/(problem\+)?json\b/.test(contentType);
    const parsed = text === '' ? null : isJson ? JSON.parse(text) : text;
    const response: ApiResponse<T> = { status: res.status, headers: res.headers, body: parsed, text };
    if (!options.unchecked) this.checkAgainstSpec(method, path, response);
    if (method === 'POST' && response.status === 201 && /^\/api\/clients\/?$/.test(new URL(path, this.baseUrl).pathname)) {
      this.created.clients.add((response.body as { id: number }).id);
    }
    return response;
  }

  /** Fails the test when an answer is not what openapi.yaml says the operation answers. */
  checkAgainstSpec(method: string, path: string, res: ApiResponse): void {
    const where = `${method} ${path} -> ${res.status} ${res.text.slice(0, 500)}`;
    assert.ok(res.status < 500, `the API answered a server error: ${where}`);
    const contentType = res.headers.get('content-type') ?? '';
    const pathname = new URL(path, this.baseUrl).pathname;
    const operation = this.contract.router.matchOperation({
      method,
      path: pathname.endsWith('/') ? pathname : `${pathname}/`,
      headers: {},
    });

    if (res.status >= 400) {
      assert.ok(contentType.startsWith(PROBLEM_TYPE), `a problem must be ${PROBLEM_TYPE}, got "${contentType}": ${where}`);
      assert.ok(this.validateProblem(res.body), `the problem does not match the Problem schema (${JSON.stringify(this.validateProblem.errors)}): ${where}`);
      assert.equal(res.body.status, res.status, `the problem's status differs from the HTTP status: ${where}`);
    }
    if (!operation) return; // no operation: only the problem shape above can be checked (404, 405)

    const declared = operation.responses?.[String(res.status)] ?? operation.responses?.default;
    assert.ok(declared, `${operation.operationId} does not declare status ${res.status} in openapi.yaml: ${where}`);
    const content = (declared as { content?: Record<string, unknown> }).content;
    if (res.status === 204 || !content) {
      assert.equal(res.text, '', `a ${res.status} answer of ${operation.operationId} must have no body: ${where}`);
      return;
    }
    if (res.status >= 400) {
      assert.ok(content[PROBLEM_TYPE], `${operation.operationId} declares ${res.status} without ${PROBLEM_TYPE}: ${where}`);
      return;
    }
    assert.ok(content['application/json'], `${operation.operationId} declares no application/json body for ${res.status}`);
    assert.ok(contentType.startsWith('application/json'), `expected application/json, got "${contentType}": ${where}`);
    const result = this.contract.validateResponse(res.body, operation, res.status);
    assert.ok(result.valid, `the answer of ${operation.operationId} does not match openapi.yaml (${JSON.stringify(result.errors)}): ${where}`);
  }

  /** A new client through the API; phone and timezone are made up unless given. */
  async createClient(fields: Record<string, unknown> = {}) {
    const res = await this.post('/api/clients/', { phone_number: randomPhone(), timezone: 'Europe/Moscow', ...fields });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: number; phone_number: string; mobile_operator_code: string; tag: string | null; timezone: string };
  }

  /** A new scheduled mailing through the API, starting tomorrow unless told otherwise. */
  async createMailing(fields: Record<string, unknown> = {}) {
    const res = await this.post('/api/mailings/', { ...futureWindow(), text: 'Hello from the API tests', ...fields });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: number; start_at: string; end_at: string; text: string; filter: Record<string, string[]>; status: string };
  }
}

/** `7` + 10 random digits; `code` fixes digits 2-4. Collisions in one run are a 1-in-10^7 event. */
export function randomPhone(code = String(randomInt(0, 1000)).padStart(3, '0')): string {
  return `7${code}${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
}

/** A tag nobody else uses, so that filtered lists hold only this test's clients. */
export const uniqueTag = (prefix = 't') => `${prefix}-${randomUUID()}`;

const HOUR = 3600_000;
export const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();
export const futureWindow = () => ({ start_at: isoIn(24 * HOUR), end_at: isoIn(48 * HOUR) });

/** Asserts a problem answer: its status and that `errors[].field` names `field`. */
export function assertProblem(res: ApiResponse, status: number, field?: string): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  if (field !== undefined) {
    const fields = ((res.body?.errors ?? []) as { field: string }[]).map((e) => e.field);
    assert.ok(fields.includes(field), `expected errors[].field to include "${field}", got ${JSON.stringify(fields)}`);
  }
}

interface Running {
  api: Api;
  close(): Promise<void>;
}

async function start(): Promise<Running> {
  const config = loadConfig();
  const databaseUrl = process.env.DATABASE_URL;
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  assert.ok(databaseUrl && temporalAddress, 'DATABASE_URL / TEMPORAL_ADDRESS unset: run mocha with --require test/support/hooks.ts');
  const logger = createLogger(process.env.LOG_LEVEL ?? 'silent', 'api-test');
  const db = connectDatabase(databaseUrl, 5);
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new TemporalClient({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? config.TEMPORAL_NAMESPACE });
  const app = createApp({
    logger,
    maxBodyBytes: MAX_BODY_BYTES,
    services: {
      readiness: {
        postgres: () => db.raw('select 1'),
        temporal: () => connection.healthService.check({}),
      },
      mailings: createMailingService({
        temporal,
        taskQueue: TASK_QUEUE,
        limits: sendLimits(config),
        // Nobody runs the workflows, so a delete would otherwise wait the whole default 30 s for them to stop.
        stopWaitMs: 50,
        logger,
      }),
    },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s)).once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  const contract = createContract();
  await contract.init();
  const problemSchema = (contract.definition as any).components.schemas.Problem;
  const validateProblem = new Ajv({ allErrors: true, strict: false }).compile(problemSchema);

  const api = new Api(`http://127.0.0.1:${port}`, db, contract, validateProblem);
  return {
    api,
    async close() {
      const ids = [...api.created.clients];
      if (ids.length) await db('clients').whereIn('id', ids).del();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([db.destroy(), connection.close()]);
    },
  };
}

/**
 * Call inside a `describe`: starts the app before its tests and stops it after them. The returned
 * object's `api` is set once `before` has run.
 */
export function useApi(): { api: Api } {
  const holder = {} as { api: Api };
  let running: Running | undefined;
  before(async function () {
    this.timeout(30_000);
    running = await start();
    holder.api = running.api;
  });
  beforeEach(() => {
    // objection's models share one global knex; another test file may have pointed it elsewhere.
    Model.knex(holder.api.db);
  });
  after(async () => {
    await running?.close();
  });
  return holder;
}
