import assert from 'node:assert/strict';
import OpenAPIBackend from 'openapi-backend';
import { openPaths, pathTemplates } from '../../api/contract';

const answer = { '200': { description: 'ok' } };

/** A spec secured as a whole, with some operations open (`security: []`). */
async function contractOf(paths: Record<string, Record<string, object>>): Promise<OpenAPIBackend> {
  const contract = new OpenAPIBackend({
    definition: {
      openapi: '3.0.3',
      info: { title: 'paths', version: '1' },
      security: [{ apiKey: [] }],
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      paths,
    },
    quick: true,
  });
  await contract.init();
  return contract;
}

describe("the spec's paths", () => {
  it('match a request path to its template, a concrete path before a templated one, with or without the trailing slash', async () => {
    const contract = await contractOf({
      '/things/{id}/': { get: { operationId: 'one', responses: answer } },
      '/things/summary/': { get: { operationId: 'summary', responses: answer } },
    });
    const templateOf = pathTemplates(contract);
    assert.equal(templateOf('/things/42'), '/things/{id}/');
    assert.equal(templateOf('/things/summary'), '/things/summary/');
    assert.equal(templateOf('/things/summary/'), '/things/summary/');
    assert.equal(templateOf('/things/42/more/'), undefined);
  });

  it('are open exactly where every operation declares security: [] (a concrete path keeps its own security)', async () => {
    const isOpen = openPaths(
      await contractOf({
        '/probe/': { get: { operationId: 'probe', security: [], responses: answer } },
        '/things/{id}/': { get: { operationId: 'one', security: [], responses: answer } },
        '/things/summary/': { get: { operationId: 'summary', responses: answer } },
        '/mixed/': { get: { operationId: 'read', security: [], responses: answer }, post: { operationId: 'write', responses: answer } },
        '/secured/': { get: { operationId: 'secured', security: [{ apiKey: [] }], responses: answer } },
      }),
    );
    assert.equal(isOpen('/probe'), true);
    assert.equal(isOpen('/things/42/'), true);
    assert.equal(isOpen('/things/summary/'), false);
    assert.equal(isOpen('/mixed/'), false);
    assert.equal(isOpen('/secured/'), false);
    assert.equal(isOpen('/elsewhere/'), false);
  });
});
