import type Koa from 'koa';
import type { Readable } from 'node:stream';
import type OpenAPIBackend from 'openapi-backend';
import type { Context } from 'openapi-backend';
import * as clients from '../../domain/clients';
import { schemaCheck, schemaFields } from '../contract';
import type { components } from '../../contract/schema';
import type { Query } from './query';

type ClientInput = components['schemas']['ClientInput'];
type ClientPatch = components['schemas']['ClientPatch'];

const id = (c: Context) => Number(c.request.params.id);

/** A CSV row is a `POST /api/clients/` body: the same fields, checked by the same schema, its problems named the same way. */
const clientRow = (contract: OpenAPIBackend): clients.ClientRow => {
  const { fields, required } = schemaFields(contract, 'ClientInput');
  return { columns: fields, required, check: schemaCheck(contract, 'ClientInput') };
};

export const clientHandlers = {
  listClients: async (c: Context, ctx: Koa.Context) => {
    const { cursor, limit, order, ...filter } = c.request.query as Query<'listClients'>;
    ctx.body = await clients.listClients(filter, { cursor, limit, order });
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

  importClients: async (c: Context, ctx: Koa.Context) => {
    const result = await clients.importClients(ctx.state.bodyStream as Readable, clientRow(c.api));
    ctx.state.logger.info({ created: result.created, updated: result.updated, rejected: result.rejected }, 'clients imported');
    ctx.body = result;
  },

  exportClients: async (c: Context, ctx: Koa.Context) => {
    const csv = clients.exportClients(clientRow(c.api));
    ctx.attachment('clients.csv');
    ctx.type = 'text/csv; charset=utf-8';
    ctx.body = csv;
  },

  deleteClient: async (c: Context, ctx: Koa.Context) => {
    await clients.deleteClient(id(c));
    ctx.state.logger.info({ clientId: id(c) }, 'client deleted');
    ctx.status = 204;
  },
};
