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
import { createApp, type CsvLimits } from '../../api/app';
import { loadContract } from '../../api/contract';
import { createApiKey } from '../../domain/api-keys';
import { createMailingService, type MailingService } from '../../domain/mailings';
import type { AuthOptions } from '../../api/auth/options';
import { mailingWorkflowId } from '../../workflows/mailing';
import { connectDatabase, type Database } from '../../storage/database';

/**
 * The real Koa app in-process on a free port, with the real services: PostgreSQL and Temporal from the
 * test stack (test/support/hooks.ts). No worker runs: a created mailing gets a started workflow on a task
 * queue that nobody polls, so it stays `scheduled`.
 *
 * Every answer of `api.request()` is checked against openapi.yaml: the status must be declared for the
 * operation, JSON bodies must match the declared schema, and problems must be `application/problem+json`
 * bodies that match the Problem schema.
 *
 * Requests carry an operator API key made for the app (`Authorization: Bearer msk_…`), unless the test
 * gives its own Authorization header or asks another caller with `api.as(...)`.
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
  /** What this run created through the API, to clean up afterwards. */
  readonly created = { clients: new Set<number>(), mailings: new Set<number>() };

  constructor(
    readonly baseUrl: string,
    readonly db: Database,
    private readonly contract: OpenAPIBackend,
    private readonly validateProblem: ReturnType<Ajv['compile']>,
    /** Sent as `Authorization: Bearer <credential>` (an API key or an access token); null sends none. */
    readonly credential: string | null = null,
  ) {}

  /** The same API asked by another caller: an API key or access token, or null for an anonymous one. */
  as(credential: string | null): Api {
    const other = new Api(this.baseUrl, this.db, this.contract, this.validateProblem, credential);
    Object.assign(other.created, this.created);
    return other;
  }

  get = (path: string, options?: RequestOptions) => this.request('GET', path, options);
  post = (path: string, json?: unknown, options?: RequestOptions) => this.request('POST', path, { json, ...options });
  put = (path: string, json?: unknown, options?: RequestOptions) => this.request('PUT', path, { json, ...options });
  patch = (path: string, json?: unknown, options?: RequestOptions) => this.request('PATCH', path, { json, ...options });
  delete = (path: string, options?: RequestOptions) => this.request('DELETE', path, options);

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(this.credential && { authorization: `Bearer ${this.credential}` }), ...options.headers };
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
    if (method === 'POST' && response.status === 201) {
      const collection = /^\/api\/(clients|mailings)\/?$/.exec(new URL(path, this.baseUrl).pathname)?.[1] as 'clients' | 'mailings' | undefined;
      if (collection) this.created[collection].add((response.body as { id: number }).id);
    }
    if (!options.unchecked) this.checkAgainstSpec(method, path, response);
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
    if (content['text/csv'] && contentType.startsWith('text/csv')) return; // a CSV export: the test reads it back
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
    return res.body as { id: number; start_at: string; end_at: string; text: string; filter: Record<string, string[]>; send_window: { from: string; to: string } | null; status: string };
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

let validators: Promise<{ contract: OpenAPIBackend; validateProblem: ReturnType<Ajv['compile']> }> | undefined;

/** The spec's response validators; built once per run, since initialising the contract takes a second. */
function specValidators() {
  validators ??= (async () => {
    const contract = await loadContract();
    const problemSchema = (contract.definition as any).components.schemas.Problem;
    return { contract, validateProblem: new Ajv({ allErrors: true, strict: false }).compile(problemSchema) };
  })();
  return validators;
}

export interface ApiOptions {
  /**
   * The task queue mailing workflows are started on. Give one to run a worker on it; by default it is
   * this run's own TASK_QUEUE, which nobody polls.
   */
  taskQueue?: string;
  /**
   * How long a mailing DELETE waits for its workflow to stop. Defaults to MAILING_STOP_WAIT_MS when a
   * task queue is given (a worker is expected), else to 50 ms (no worker will ever stop the workflow).
   */
  stopWaitMs?: number;
  /** IMPORT_MAX_BYTES and IMPORTS_AT_ONCE of the app (their defaults unless given). */
  imports?: Partial<CsvLimits>;
  /** Who may call the app; by default API keys only (the tests' requests carry an operator key). */
  auth?: AuthOptions;
  /** Where the app writes its JSON log lines, at `debug`; by default LOG_LEVEL (silent unless set) to stdout. */
  logs?: { write(line: string): void };
}

/** What a describe gets from `useApi()`: set once its `before` has run. */
export interface ApiContext {
  api: Api;
  /** The service the app was built with, e.g. for a worker's reconciler. */
  mailings: MailingService;
  temporal: TemporalClient;
}

export interface RunningApi extends ApiContext {
  close(): Promise<void>;
}

/** The app on 127.0.0.1 at `port` (a free one when not given), until `close()`; `useApi()` is the usual way in. */
export async function startApi(options: ApiOptions & { port?: number }): Promise<RunningApi> {
  const config = loadConfig();
  const databaseUrl = process.env.DATABASE_URL;
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  assert.ok(databaseUrl && temporalAddress, 'DATABASE_URL / TEMPORAL_ADDRESS unset: run mocha with --require test/support/hooks.ts');
  const logger = options.logs ? createLogger('debug', 'api-test', options.logs) : createLogger(process.env.LOG_LEVEL ?? 'silent', 'api-test');
  // The pool objection's models use, so also that of a worker started in the same process.
  const db = connectDatabase(databaseUrl, config.DATABASE_POOL_MAX);
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new TemporalClient({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? config.TEMPORAL_NAMESPACE });
  const mailings = createMailingService({
    temporal,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    limits: sendLimits(config),
    // Without a worker nobody stops a deleted mailing's workflow: a DELETE would wait the whole default 30 s.
    stopWaitMs: options.stopWaitMs ?? (options.taskQueue ? config.MAILING_STOP_WAIT_MS : 50),
    logger,
  });
  // The describes of one run may share a database with other runs (DATABASE_URL): names must not clash.
  const keyName = `api-tests-${process.pid}-${randomUUID().slice(0, 8)}`;
  Model.knex(db); // another describe's app may have pointed objection elsewhere meanwhile
  const { key } = await createApiKey(keyName, 'operator');
  // For tools the tests start against the app (schemathesis reads it in test/fuzz/schemathesis.toml).
  process.env.MAILINGS_API_KEY = key;
  const app = await createApp({
    logger,
    maxBodyBytes: MAX_BODY_BYTES,
    imports: { maxBytes: config.IMPORT_MAX_BYTES, atOnce: config.IMPORTS_AT_ONCE, ...options.imports },
    auth: options.auth ?? {},
    services: {
      readiness: {
        postgres: () => db.raw('select 1'),
        temporal: () => connection.healthService.check({}),
      },
      mailings,
    },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s)).once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  const { contract, validateProblem } = await specValidators();
  const api = new Api(`http://127.0.0.1:${port}`, db, contract, validateProblem, key);
  return {
    api,
    mailings,
    temporal,
    async close() {
      // A DELETE leaves the app waiting on its workflow's result, which never comes without a worker;
      // ending the workflows ends those waits, so that no gRPC call is left to fail on the closed connection.
      await Promise.allSettled(
        [...api.created.mailings].map(async (id) => {
          const handle = temporal.workflow.getHandle(mailingWorkflowId(id));
          await handle.terminate('API tests are over');
          await handle.result();
        }),
      );
      const ids = [...api.created.clients];
      await Promise.allSettled([ids.length ? db('clients').whereIn('id', ids).del() : undefined, db('api_keys').where('name', keyName).update({ revoked_at: db.fn.now() })]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([db.destroy(), connection.close()]);
    },
  };
}

/*
 * One app for every describe that takes the defaults: creating one costs a few seconds (its contract
 * compiles the whole spec), which would dominate the suite if each file paid it. The describes that use
 * it are all known once mocha has loaded the files, so the last of them to finish closes it, before the
 * root hooks stop PostgreSQL and Temporal.
 */
let shared: Promise<RunningApi> | undefined;
let users = 0;
let fallbackRegistered = false;

async function closeShared(): Promise<void> {
  const running = shared;
  shared = undefined;
  if (running) await (await running.catch(() => undefined))?.close();
}

/**
 * Call inside a `describe`: the real app runs, on a free port, for its tests. Without options the
 * describe shares the run's app (no worker; see ApiOptions); with options it gets an app of its own.
 * The app is closed after the describe's own `after` hooks (e.g. a worker using its database stops first).
 */
export function useApi(options: ApiOptions = {}): ApiContext {
  const holder = {} as ApiContext;
  const own = options.taskQueue !== undefined || options.stopWaitMs !== undefined || options.imports !== undefined || options.auth !== undefined || options.logs !== undefined;
  if (!own) users++;
  before(async function () {
    this.timeout(60_000);
    const suite = this.test!.parent!;
    let running: Promise<RunningApi>;
    if (own) {
      running = startApi(options);
      // Added now, it runs after the after hooks the describe declared itself.
      suite.afterAll('close the API under test', async function () {
        this.timeout(60_000);
        await (await running.catch(() => undefined))?.close();
      });
    } else {
      if (!fallbackRegistered) {
        // With --grep or .only some describes never run their hooks, so the count never reaches 0:
        // the root suite then closes the app at the very end.
        fallbackRegistered = true;
        let root = suite;
        while (root.parent) root = root.parent;
        root.afterAll('close the shared API under test', closeShared);
      }
      suite.afterAll('release the shared API under test', async function () {
        this.timeout(60_000);
        if (--users === 0) await closeShared();
      });
      running = shared ??= startApi(options);
    }
    const { api, mailings, temporal } = await running;
    Object.assign(holder, { api, mailings, temporal });
    // The describe's own before hooks come next and may call the API: its models must use this app's pool,
    // not that of an app another describe has closed.
    Model.knex(api.db);
  });
  beforeEach(() => {
    // objection's models share one global knex; another test file may have pointed it elsewhere.
    Model.knex(holder.api.db);
  });
  return holder;
}
