import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
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

export async function createApp({ logger, services, maxBodyBytes }: AppOptions): Promise<Koa> {
  const contract = createContract();
  contract.register({
    ...operations(services),
    validationFail: (c) => {
      throw validationProblem(c.validation.errors ?? []);
    },
    notFound: (_c, ctx: Koa.Context) => {
      throw new Problem(404, 'Not found', `no resource at ${ctx.path}`);
    },
    methodNotAllowed: (_c, ctx: Koa.Context) => {
      throw new Problem(405, 'Method not allowed', `${ctx.method} is not allowed on ${ctx.path}`);
    },
  });
  await contract.init();

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
