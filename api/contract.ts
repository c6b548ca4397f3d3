import addFormats from 'ajv-formats';
import { IANAZone } from 'luxon';
import OpenAPIBackend from 'openapi-backend';
import path from 'node:path';

export const specPath = path.join(__dirname, '..', 'openapi.yaml');

/**
 * The API as described by openapi.yaml: routing, request validation and (in tests) response
 * validation all come from the spec, so no route or field is restated in code.
 */
export function createContract(): OpenAPIBackend {
  return new OpenAPIBackend({
    definition: specPath,
    strict: true,
    quick: false,
    coerceTypes: true,
    ajvOpts: { allErrors: true },
    ignoreTrailingSlashes: false,
    customizeAjv: (ajv) => {
      addFormats(ajv);
      ajv.addFormat('iana-timezone', { type: 'string', validate: (zone: string) => IANAZone.isValidZone(zone) });
      return ajv;
    },
  });
}
