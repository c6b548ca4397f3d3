import assert from 'node:assert/strict';
import type { Document } from 'openapi-backend';
import { loadContract, schemaFields } from '../../api/contract';

/** One list operation whose page size has a default in the spec, as the API's lists do. */
const spec = (defaultLimit: number): Document => ({
  openapi: '3.0.3',
  info: { title: 'defaults', version: '1' },
  components: {
    schemas: {
      ThingInput: { type: 'object', required: ['name'], properties: { colour: { type: 'string' }, name: { type: 'string' }, size: { type: 'integer' } } },
      Label: { type: 'string' },
    },
  },
  paths: {
    '/things/': {
      get: {
        operationId: 'listThings',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, default: defaultLimit } }],
        responses: { '200': { description: 'a page' } },
      },
    },
  },
});

async function queryTheHandlerSees(defaultLimit: number, query: Record<string, string>): Promise<unknown> {
  const contract = await loadContract(spec(defaultLimit));
  contract.register({ listThings: (c) => c.request.query, validationFail: (c) => c.validation.errors });
  return contract.handleRequest({ method: 'GET', path: '/things/', query, headers: {} });
}

describe("the contract's query defaults", () => {
  it("give a handler the spec's default for a parameter the request leaves out", async () => {
    assert.deepEqual(await queryTheHandlerSees(7, {}), { limit: 7 });
    assert.deepEqual(await queryTheHandlerSees(100, {}), { limit: 100 });
  });

  it('leave a value the request gives, coerced to its type', async () => {
    assert.deepEqual(await queryTheHandlerSees(7, { limit: '3' }), { limit: 3 });
  });
});

describe("the contract's schema fields", () => {
  it("list an object schema's fields in the spec's order and its required ones (a CSV import's columns)", async () => {
    assert.deepEqual(schemaFields(await loadContract(spec(1)), 'ThingInput'), { fields: ['colour', 'name', 'size'], required: ['name'] });
  });

  it('refuse a schema that is not an object or not there', async () => {
    const contract = await loadContract(spec(1));
    assert.throws(() => schemaFields(contract, 'Label'), /no object schema Label/);
    assert.throws(() => schemaFields(contract, 'Missing'), /no object schema Missing/);
  });
});
