import type Koa from 'koa';

/** A named check of one dependency; it resolves when the dependency answers. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

const READINESS_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => AbortSignal.timeout(READINESS_TIMEOUT_MS).addEventListener('abort', () => reject(new Error('timed out')))),
    ]);
    return 'ok';
  } catch (error) {
    return `unavailable: ${(error as Error).message}`;
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
      const results = await Promise.all(names.map((name) => probe(readiness[name])));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]));
      const ready = results.every((r) => r === 'ok');
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? 'ok' : 'unavailable', checks };
    },
  };
}
