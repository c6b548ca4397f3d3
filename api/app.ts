import Router from '@koa/router';
import Koa from 'koa';
import { Transform } from 'node:stream';
import { koaBody } from 'koa-body';
import type OpenAPIBackend from 'openapi-backend';
import type { Logger } from '../config/logger';
import { adminUi } from './admin-ui';
import { createAuth, type AuthOptions } from './auth';
import { loadContract, openPaths, pathTemplates, withTrailingSlash } from './contract';
import { docs } from './docs';
import { operations, Services } from './handlers';
import { tagWithIds, withLogIds } from './log-ids';
import { requestMetrics } from './metrics';
import { Problem, problems, validationProblem } from './problem';

export interface AppOptions {
  logger: Logger;
  services: Services;
  maxBodyBytes: number;
  /** Who may call: API keys, OpenID Connect, or nobody checked (AUTH_DISABLED). Explicit, so that no app is open by omission. */
  auth: AuthOptions;
  /** Streamed CSV bodies (client imports): the most bytes one may have (IMPORT_MAX_BYTES), how many are taken at once (IMPORTS_AT_ONCE). */
  imports: CsvLimits;
}

export interface CsvLimits {
  maxBytes: number;
  atOnce: number;
}

/** Gives every request a logger that carries its id, and logs one line per request. */
function requestLog(logger: Logger): Koa.Middleware {
  let sequence = 0;
  return async (ctx, next) => {
    const started = performance.now();
    ctx.state.logger = logger.child({ requestId: ++sequence });
    try {
      await next();
    } finally {
      const ms = Math.round(performance.now() - started);
      ctx.state.logger.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms }, 'request');
    }
  };
}

const hasBody = (ctx: Koa.Context) => ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';

/**
 * Reads the JSON body of an operation the spec declares one for, refusing any other media type (415)
 * before reading it. An operation that takes no body (a DELETE, a pause), a method the path does not
 * declare (its 405) and a path outside the spec (its 404) leave the body unread, whatever it is.
 */
function jsonBodies(contract: OpenAPIBackend, maxBodyBytes: number): Koa.Middleware {
  const templateOf = pathTemplates(contract);
  const takesJson = new Set(
    contract
      .getOperations()
      .filter((operation) => operation.requestBody && 'content' in operation.requestBody && operation.requestBody.content['application/json'])
      .map((operation) => `${operation.method.toUpperCase()} ${operation.path}`),
  );
  const parse = koaBody({ jsonLimit: maxBodyBytes, jsonStrict: true, urlencoded: false, text: false, multipart: false });
  return async (ctx, next) => {
    if (ctx.state.bodyStream || !takesJson.has(`${ctx.method} ${templateOf(ctx.path)}`)) return next();
    if (hasBody(ctx) && !ctx.is('application/json')) {
      throw new Problem(415, 'Unsupported media type', `expected application/json, got ${ctx.get('content-type') || 'no content type'}`);
    }
    await parse(ctx, next);
  };
}

const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The body as it arrives, failing with 413 once it passes `limit` bytes. */
function limitedStream(req: NodeJS.ReadableStream, limit: number): Transform {
  let received = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received <= limit) return done(null, chunk);
      // The rest is read and dropped, so that the client, still sending, gets the answer.
      req.unpipe(limited);
      req.resume();
      done(new Problem(413, 'Request body too large', `the body is larger than ${limit} bytes`, [{ field: 'body', message: `is larger than ${limit} bytes` }]));
    },
  });
  // Not pipeline(): on a 413 the request must stay open for the answer.
  req.once('error', (error) => limited.destroy(error));
  // The error may come before the handler reads the stream; it finds it then (the stream is `errored`).
  limited.on('error', () => undefined);
  return req.pipe(limited);
}

/**
 * An operation whose request body the spec declares as `text/csv` (the client import) gets it as a
 * stream, `ctx.state.bodyStream`, under its own limit: the JSON parser never reads it, and a body
 * declared larger than the limit is refused before it is read. Its handler may hold a database
 * connection for as long as the upload lasts, so only `atOnce` such requests run at a time; one more is
 * a 503, before its body is read.
 */
function csvBodies(contract: OpenAPIBackend, { maxBytes: limit, atOnce }: CsvLimits): Koa.Middleware {
  let running = 0;
  // Only requests of a method some CSV operation has are routed here (routing is most of a small read's cost).
  const csvMethods = new Set(
    contract
      .getOperations()
      .filter((operation) => operation.requestBody && 'content' in operation.requestBody && operation.requestBody.content['text/csv'])
      .map((operation) => operation.method.toUpperCase()),
  );
  return async (ctx, next) => {
    if (!csvMethods.has(ctx.method)) return next();
    const operation = contract.router.matchOperation({ method: ctx.method, path: withTrailingSlash(ctx.path), headers: {} });
    if (!operation?.requestBody || !('content' in operation.requestBody) || !operation.requestBody.content['text/csv']) return next();
    if (hasBody(ctx) && !ctx.is('text/csv')) {
      throw new Problem(415, 'Unsupported media type', `expected text/csv, got ${ctx.get('content-type') || 'no content type'}`);
    }
    // The rows are read as UTF-8 (ASCII is a part of it): any other charset would be stored garbled.
    if (ctx.request.charset && !UTF8_CHARSETS.has(ctx.request.charset.toLowerCase())) {
      throw new Problem(415, 'Unsupported media type', `expected text/csv in UTF-8, got charset ${ctx.request.charset}`);
    }
    if (ctx.request.length > limit) {
      throw new Problem(413, 'Request body too large', `the body is larger than ${limit} bytes`, [{ field: 'body', message: `is larger than ${limit} bytes` }]);
    }
    if (running >= atOnce) throw new Problem(503, 'Service unavailable', `${atOnce} CSV uploads are being taken already; repeat the request`);
    running++;
    try {
      ctx.state.bodyStream = limitedStream(ctx.req, limit);
      await next();
    } finally {
      running--;
    }
  };
}

function isDecodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** The methods the spec declares on the path a request addresses (HEAD with GET), or undefined for no such path. */
function methodsByPath(contract: OpenAPIBackend): (path: string) => string[] | undefined {
  const byPath = new Map<string, string[]>();
  for (const { path, method } of contract.getOperations()) {
    const methods = method === 'get' ? ['GET', 'HEAD'] : [method.toUpperCase()];
    byPath.set(path, [...(byPath.get(path) ?? []), ...methods]);
  }
  const templateOf = pathTemplates(contract);
  return (path) => byPath.get(templateOf(path) ?? '');
}

export async function createApp({ logger, services, maxBodyBytes, auth, imports }: AppOptions): Promise<Koa> {
  const contract = await loadContract();
  const app = new Koa();
  const access = createAuth(app, auth, openPaths(contract), logger);
  const allowedMethods = methodsByPath(contract);
  contract.register({
    ...withLogIds(operations(services)),
    ...access.handlers,
    validationFail: (c, ctx: Koa.Context) => {
      tagWithIds(c, ctx);
      throw validationProblem(c.validation.errors ?? []);
    },
    notFound: (_c, ctx: Koa.Context) => {
      throw new Problem(404, 'Not found', `no resource at ${ctx.path}`);
    },
    // Before openapi-backend routes: it would send `PUT /api/mailings/fullinfo/` to `/api/mailings/{id}/`.
    preRoutingHandler: (c, ctx: Koa.Context) => {
      // The router decodes path parameters and would throw on a broken escape (`/api/messages/%/`).
      if (!isDecodable(ctx.path)) throw new Problem(400, 'Invalid request', 'the path has a malformed percent-encoding', [{ field: 'path', message: 'has a malformed percent-encoding' }]);
      const allowed = allowedMethods(c.request.path);
      if (allowed && !allowed.includes(ctx.method)) {
        ctx.set('Allow', allowed.join(', ')); // RFC 9110 §15.5.6: a 405 lists what the resource does allow
        throw new Problem(405, 'Method not allowed', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    },
  });

  const router = new Router({ strict: true });
  docs(router);

  app.use(requestMetrics(contract));
  app.use(requestLog(logger));
  app.use(problems());
  // The admin console's files, the spec and its docs are served to anyone (the console's API calls are not).
  app.use(adminUi());
  app.use(router.routes());
  for (const middleware of access.middleware) app.use(middleware);
  app.use(csvBodies(contract, imports));
  app.use(jsonBodies(contract, maxBodyBytes));
  app.use(async (ctx) => {
    await contract.handleRequest(
      // HEAD is a GET whose body Koa leaves out.
      { method: ctx.method === 'HEAD' ? 'GET' : ctx.method, path: withTrailingSlash(ctx.path), query: ctx.query as Record<string, string | string[]>, headers: ctx.headers as Record<string, string>, body: ctx.request.body },
      ctx,
    );
  });
  return app;
}
