import type Koa from 'koa';
import type { Context } from 'openapi-backend';

/** The log field of each collection's ids: `/api/mailings/{id}/…` is about a mailing. */
const ID_FIELDS: Record<string, string> = { clients: 'clientId', mailings: 'mailingId', messages: 'messageId' };
// List filters that name one entity.
const FILTER_FIELDS: Record<string, string> = { mailing_id: 'mailingId', client_id: 'clientId' };

// Path parameters come as strings; query parameters as the contract coerced them (numbers).
const asId = (value: unknown) => {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
};

/** The ids a request names: the path's `{id}` and the list filters, as log fields. */
function idsOf(c: Context): Record<string, number> {
  const ids: Record<string, number> = {};
  const collection = /^\/api\/(\w+)\/\{id\}\//.exec(c.operation?.path ?? '')?.[1];
  const id = asId(c.request.params?.id);
  if (collection && ID_FIELDS[collection] && id !== undefined) ids[ID_FIELDS[collection]] = id;
  for (const [param, field] of Object.entries(FILTER_FIELDS)) {
    const value = asId(c.request.query?.[param]);
    if (value !== undefined) ids[field] = value;
  }
  return ids;
}

/**
 * Puts the ids a request is about on its logger (`ctx.state.logger`), so the request line and every
 * line logged while handling it carry them; a created entity's id is added once it exists.
 */
export function tagWithIds(c: Context, ctx: Koa.Context): void {
  const ids = idsOf(c);
  if (Object.keys(ids).length > 0) ctx.state.logger = ctx.state.logger.child(ids);
}

/** After a 201 on a collection (`POST /api/mailings/`): the new entity's id. */
function tagCreated(c: Context, ctx: Koa.Context): void {
  const collection = /^\/api\/(\w+)\/$/.exec(c.operation?.path ?? '')?.[1];
  const id = (ctx.body as { id?: unknown } | undefined)?.id;
  if (ctx.status === 201 && collection && ID_FIELDS[collection] && typeof id === 'number') {
    ctx.state.logger = ctx.state.logger.child({ [ID_FIELDS[collection]]: id });
  }
}

/** Each operation handler with its request's logger tagged by the ids it is about. */
export function withLogIds<H extends Record<string, (c: Context, ctx: Koa.Context) => unknown>>(handlers: H): H {
  const tagged = Object.entries(handlers).map(([operationId, handle]) => [
    operationId,
    async (c: Context, ctx: Koa.Context) => {
      tagWithIds(c, ctx);
      await handle(c, ctx);
      tagCreated(c, ctx);
    },
  ]);
  return Object.fromEntries(tagged) as H;
}
