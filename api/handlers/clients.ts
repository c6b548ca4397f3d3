import type Koa from 'koa';
import type { Context } from 'openapi-backend';
import * as clients from '../../domain/clients';
import type { components, operations } from '../schema';

type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;
type ClientInput = components['schemas']['ClientInput'];
type ClientPatch = components['schemas']['ClientPatch'];

const id = (c: Context) => Number(c.request.params.id);

export const clientHandlers = {
  listClients: async (c: Context, ctx: Koa.Context) => {
    const { cursor, limit = 100, ...filter } = c.request.query as Query<'listClients'>;
    ctx.body = await clients.listClients(filter, { cursor, limit });
  },

  createClient: async (c: Context<ClientInput>, ctx: Koa.Context) => {
    const client = await clients.createClient(c.request.requestBody);
    ctx.state.logger.info({ clientId: client.id }, 'client created');
    ctx.status = 201;
    ctx.set('Location', `/api/clients/${client.id}/`);
    ctx.body = client;
  },

  getClient: async (c: Context, ctx: Koa.Context) => {
    ctx.body = await clients.getClient(id(c));
  },

  replaceClient: async (c: Context<ClientInput>, ctx: Koa.Context) => {
    ctx.body = await clients.replaceClient(id(c), c.request.requestBody);
    ctx.state.logger.info({ clientId: id(c) }, 'client replaced');
  },

  updateClient: async (c: Context<ClientPatch>, ctx: Koa.Context) => {
    ctx.body = await clients.updateClient(id(c), c.request.requestBody);
    ctx.state.logger.info({ clientId: id(c) }, 'client updated');
  },

  deleteClient: async (c: Context, ctx: Koa.Context) => {
    await clients.deleteClient(id(c));
    ctx.state.logger.info({ clientId: id(c) }, 'client deleted');
    ctx.status = 204;
  },
};
