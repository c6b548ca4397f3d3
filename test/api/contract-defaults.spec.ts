import assert from 'node:assert/strict';
import type { Document } from 'openapi-backend';
import { loadContract } from '../../api/contract';

/** One list operation whose page size has a default in the spec, as the API's lists do. */
const spec = (defaultLimit: number): Document => ({
  openapi: '3.0.3',
  info: { title: 'defaults', version: '1' },
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
