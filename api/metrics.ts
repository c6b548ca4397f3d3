import type Koa from 'koa';
import type OpenAPIBackend from 'openapi-backend';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { pathTemplates } from './contract';

/** What the API exports, served by `serveMetrics` on API_METRICS_PORT (api/main.ts). */
export const apiMetrics = new Registry();

const requestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time from a request arriving to its answer, by method, route template and status.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [apiMetrics],
});

/**
 * The route a request took, as a template (`/api/mailings/{id}/`, `/docs/:file`), never the path
 * itself: ids in labels would make a series per mailing. A path no route knows is `unmatched`.
 */
function routeTemplates(contract: OpenAPIBackend): (ctx: Koa.Context) => string {
  const templateOf = pathTemplates(contract);
  return (ctx) => templateOf(ctx.path) ?? (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
}

/** Times every request into `http_request_duration_seconds`; the outermost middleware, so it sees the final status. */
export function requestMetrics(contract: OpenAPIBackend): Koa.Middleware {
  const routeOf = routeTemplates(contract);
  return async (ctx, next) => {
    const end = requestDuration.startTimer();
    try {
      await next();
    } finally {
      end({ method: ctx.method, route: routeOf(ctx), status: String(ctx.status) });
    }
  };
}

/** Figures read from PostgreSQL when Prometheus scrapes, from tables of a row per mailing. */
export interface DatabaseFigures {
  mailingsByStatus(): Promise<Record<string, number>>;
  pendingMessages(): Promise<number>;
}

let figures: DatabaseFigures | undefined;

/**
 * Sets a gauge from the database at scrape time. When the database does not answer, the gauge shows
 * no figure in that scrape rather than its last one, which would look current (`unknown`: no series
 * for a labelled gauge, NaN for a plain one), and the rest of the scrape is served all the same.
 */
async function readInto(read: (figures: DatabaseFigures) => Promise<void>, unknown: () => void): Promise<void> {
  if (!figures) return;
  try {
    await read(figures);
  } catch {
    unknown();
  }
}

new Gauge({
  name: 'mailings',
  help: 'Mailings by status, as the API lists them (deleted ones are not counted), read from PostgreSQL at scrape time.',
  labelNames: ['status'] as const,
  registers: [apiMetrics],
  collect() {
    return readInto(
      async ({ mailingsByStatus }) => {
        for (const [status, count] of Object.entries(await mailingsByStatus())) this.set({ status }, count);
      },
      () => this.reset(),
    );
  },
});

new Gauge({
  name: 'mailing_messages_pending',
  help: 'Messages waiting to be sent, over every mailing, read from the message counters at scrape time (NaN when PostgreSQL did not answer).',
  registers: [apiMetrics],
  collect() {
    return readInto(
      async ({ pendingMessages }) => this.set(await pendingMessages()),
      () => this.set(NaN),
    );
  },
});

/**
 * Adds the process metrics (`process_*`, `nodejs_*`) and has the gauges read PostgreSQL at scrape
 * time. The API exports those figures, not the workers: there are fewer API instances, and the
 * figures are the same from each (aggregate them with `max`).
 */
export function collectApiMetrics(from: DatabaseFigures): void {
  if (!figures) collectDefaultMetrics({ register: apiMetrics });
  figures = from;
}
