import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';

const root = path.join(__dirname, '..');

describe('the contract', () => {
  it('types the code with declarations generated from openapi.yaml (run `npm run generate` after editing it)', async () => {
    const generated = astToString(await openapiTS(new URL(`file://${path.join(root, 'openapi.yaml')}`)));
    const committed = readFileSync(path.join(root, 'contract', 'schema.d.ts'), 'utf8');
    // The CLI adds a header comment; the declarations must be identical.
    assert.ok(committed.endsWith(generated), 'contract/schema.d.ts is out of date with openapi.yaml');
  });
});
