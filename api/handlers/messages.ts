import type Koa from 'koa';
import type { Context } from 'openapi-backend';
import * as messages from '../../domain/messages';
import type { operations } from '../../contract/schema';

type Query = NonNullable<operations['listMessages']['parameters']['query']>;

export const messageHandlers = {
  listMessages: async (c: Context, ctx: Koa.Context) => {
    const { cursor, limit = 100, order, ...filter } = c.request.query as Query;
    ctx.body = await messages.listMessages(filter, { cursor, limit, order });
  },

  getMessage: async (c: Context, ctx: Koa.Context) => {
    ctx.body = await messages.getMessage(Number(c.request.params.id));
  },
};
