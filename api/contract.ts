import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { IANAZone } from 'luxon';
import OpenAPIBackend from 'openapi-backend';
import path from 'node:path';

const rfc3339 = (fullFormats['date-time'] as { validate: (value: string) => boolean }).validate;

/** RFC 3339 that JavaScript and PostgreSQL can both read: no leap seconds, years 1 to 9999. */
function isStorableDateTime(value: string): boolean {
  const ms = Date.parse(value);
  if (!rfc3339(value) || Number.isNaN(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

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
      ajv.addFormat('date-time', { type: 'string', validate: isStorableDateTime });
      ajv.addFormat('iana-timezone', { type: 'string', validate: (zone: string) => IANAZone.isValidZone(zone) });
      return ajv;
    },
  });
}
