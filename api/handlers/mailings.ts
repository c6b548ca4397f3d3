import type Koa from 'koa';
import type { Context } from 'openapi-backend';
import type { MailingService } from '../../domain/mailings';
import type { components } from '../../contract/schema';
import type { Query } from './query';

type MailingInput = components['schemas']['MailingInput'];
type MailingPatch = components['schemas']['MailingPatch'];
type AudienceQuery = components['schemas']['AudienceQuery'];

const id = (c: Context) => Number(c.request.params.id);

export function mailingHandlers(mailings: MailingService) {
  return {
    listMailings: async (c: Context, ctx: Koa.Context) => {
      const { cursor, limit, order, status } = c.request.query as Query<'listMailings'>;
      ctx.body = await mailings.list({ cursor, limit, order }, { status });
    },

    createMailing: async (c: Context<MailingInput>, ctx: Koa.Context) => {
      const mailing = await mailings.create(c.request.requestBody);
      ctx.status = 201;
      ctx.set('Location', `/api/mailings/${mailing.id}/`);
      ctx.body = mailing;
    },

    getMailing: async (c: Context, ctx: Koa.Context) => {
      ctx.body = await mailings.get(id(c));
    },

    replaceMailing: async (c: Context<MailingInput>, ctx: Koa.Context) => {
      ctx.body = await mailings.replace(id(c), c.request.requestBody);
    },

    updateMailing: async (c: Context<MailingPatch>, ctx: Koa.Context) => {
      ctx.body = await mailings.update(id(c), c.request.requestBody);
    },

    previewAudience: async (c: Context<AudienceQuery>, ctx: Koa.Context) => {
      ctx.body = await mailings.preview(c.request.requestBody);
    },

    pauseMailing: async (c: Context, ctx: Koa.Context) => {
      ctx.body = await mailings.pause(id(c));
    },

    resumeMailing: async (c: Context, ctx: Koa.Context) => {
      ctx.body = await mailings.resume(id(c));
    },

    deleteMailing: async (c: Context, ctx: Koa.Context) => {
      await mailings.remove(id(c));
      ctx.status = 204;
    },

    getMailingsSummary: async (c: Context, ctx: Koa.Context) => {
      const { cursor, limit, order, status } = c.request.query as Query<'getMailingsSummary'>;
      ctx.body = await mailings.summary({ cursor, limit, order }, { status });
    },

    getMailingInfo: async (c: Context, ctx: Koa.Context) => {
      const { cursor, limit, order } = c.request.query as Query<'getMailingInfo'>;
      ctx.body = await mailings.info(id(c), { cursor, limit, order });
    },
  };
}
