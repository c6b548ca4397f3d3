import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import type OpenAPIBackend from 'openapi-backend';
import type { Logger } from '../config/logger';
import { createContract } from './contract';
import { docs } from './docs';
import { operations, Services } from './handlers';
import { Problem, problems, validationProblem } from './problem';

export interface AppOptions {
  logger: Logger;
  services: Services;
  maxBodyBytes: number;
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

/** Bodies are JSON only; anything else is refused before it is read. */
const jsonOnly: Koa.Middleware = async (ctx, next) => {
  const hasBody = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
  if (hasBody && !ctx.is('application/json')) {
    throw new Problem(415, 'Unsupported media type', `expected application/json, got ${ctx.get('content-type') || 'no content type'}`);
  }
  await next();
};

/** The spec spells every path with a trailing slash; requests may omit it. */
const withTrailingSlash = (path: string) => (path.endsWith('/') ? path : `${path}/`);

/**
 * The methods the spec declares on the path a request addresses, or undefined for no such path.
 * A concrete path wins over a templated one, as OpenAPI requires (`/api/mailings/fullinfo/` is not a
 * mailing id).
 */
function methodsByPath(contract: OpenAPIBackend): (path: string) => string[] | undefined {
  const byPath = new Map<string, string[]>();
  for (const { path, method } of contract.getOperations()) {
    byPath.set(path, [...(byPath.get(path) ?? []), method.toUpperCase()]);
  }
  const isTemplate = (path: string) => Number(path.includes('{'));
  const paths = [...byPath.keys()]
    .sort((a, b) => isTemplate(a) - isTemplate(b))
    .map((path) => ({ pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`), methods: byPath.get(path)! }));
  return (path) => paths.find(({ pattern }) => pattern.test(path))?.methods;
}

export async function createApp({ logger, services, maxBodyBytes }: AppOptions): Promise<Koa> {
  const contract = createContract();
  await contract.init();
  const allowedMethods = methodsByPath(contract);
  contract.register({
    ...operations(services),
    validationFail: (c) => {
      throw validationProblem(c.validation.errors ?? []);
    },
    notFound: (_c, ctx: Koa.Context) => {
      throw new Problem(404, 'Not found', `no resource at ${ctx.path}`);
    },
    // Before openapi-backend routes: it would send `PUT /api/mailings/fullinfo/` to `/api/mailings/{id}/`.
    preRoutingHandler: (c, ctx: Koa.Context) => {
      const allowed = allowedMethods(c.request.path);
      if (allowed && !allowed.includes(ctx.method)) {
        ctx.set('Allow', allowed.join(', ')); // RFC 9110 §15.5.6: a 405 lists what the resource does allow
        throw new Problem(405, 'Method not allowed', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    },
  });

  const router = new Router({ strict: true });
  docs(router);

  const app = new Koa();
  app.use(requestLog(logger));
  app.use(problems());
  app.use(router.routes());
  app.use(jsonOnly);
  app.use(koaBody({ jsonLimit: maxBodyBytes, jsonStrict: true, urlencoded: false, text: false, multipart: false }));
  app.use(async (ctx) => {
    await contract.handleRequest(
      { method: ctx.method, path: withTrailingSlash(ctx.path), query: ctx.query as Record<string, string | string[]>, headers: ctx.headers as Record<string, string>, body: ctx.request.body },
      ctx,
    );
  });
  return app;
}
