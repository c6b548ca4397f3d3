import type Koa from 'koa';
import { RETRY_AFTER_SECONDS } from '../problem';

/** A named check of one dependency; it resolves when the dependency answers. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

const READINESS_TIMEOUT_MS = 2000;

/** `ok` or `unavailable`; why goes to the log only, since anyone may ask (addresses and errors are not theirs to see). */
async function probe(name: string, check: () => Promise<unknown>, ctx: Koa.Context): Promise<string> {
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => AbortSignal.timeout(READINESS_TIMEOUT_MS).addEventListener('abort', () => reject(new Error('timed out')))),
    ]);
    return 'ok';
  } catch (error) {
    ctx.state.logger.warn({ check: name, err: error }, 'not ready');
    return 'unavailable';
  }
}

export function serviceHandlers(readiness: ReadinessChecks) {
  return {
    getApiRoot: (_c: unknown, ctx: Koa.Context) => {
      ctx.body = { clients: '/api/clients/', mailings: '/api/mailings/', messages: '/api/messages/', docs: '/docs/' };
    },

    getHealth: (_c: unknown, ctx: Koa.Context) => {
      ctx.body = { status: 'ok' };
    },

    getReadiness: async (_c: unknown, ctx: Koa.Context) => {
      const names = Object.keys(readiness);
      const results = await Promise.all(names.map((name) => probe(name, readiness[name], ctx)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]));
      const ready = results.every((r) => r === 'ok');
      ctx.status = ready ? 200 : 503;
      if (!ready) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.body = { status: ready ? 'ok' : 'unavailable', checks };
    },
  };
}
