import type Koa from 'koa';
import type { Context } from 'openapi-backend';
import * as messages from '../../domain/messages';
import type { Query } from './query';

export const messageHandlers = {
  listMessages: async (c: Context, ctx: Koa.Context) => {
    const { cursor, limit, order, ...filter } = c.request.query as Query<'listMessages'>;
    ctx.body = await messages.listMessages(filter, { cursor, limit, order });
  },

  getMessage: async (c: Context, ctx: Koa.Context) => {
    ctx.body = await messages.getMessage(Number(c.request.params.id));
  },
};
