import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { IANAZone } from 'luxon';
import OpenAPIBackend, { type Document } from 'openapi-backend';
import path from 'node:path';
import { validationProblem, type FieldError } from './problem';

const rfc3339 = (fullFormats['date-time'] as { validate: (value: string) => boolean }).validate;

/** RFC 3339 that JavaScript and PostgreSQL can both read: no leap seconds, years 1 to 9999. */
function isStorableDateTime(value: string): boolean {
  const ms = Date.parse(value);
  if (!rfc3339(value) || Number.isNaN(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** Zone names seen lately and whether each is one: checking a zone costs tens of microseconds, a CSV import checks one per row. */
const zones = new Map<string, boolean>();
function isZone(zone: string): boolean {
  let valid = zones.get(zone);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(zone);
    if (zones.size >= 1000) zones.clear(); // bounded, whatever spellings arrive
    zones.set(zone, valid);
  }
  return valid;
}

export const specPath = path.join(__dirname, '..', 'openapi.yaml');

/**
 * The API as described by openapi.yaml: routing, request validation and (in tests) response
 * validation all come from the spec, so no route or field is restated in code.
 */
export async function loadContract(definition: string | Document = specPath): Promise<OpenAPIBackend> {
  const contract = new OpenAPIBackend({
    definition,
    strict: true,
    quick: false,
    coerceTypes: true,
    // A query parameter's `default` in the spec is the value handlers see when the request omits it.
    ajvOpts: { allErrors: true, useDefaults: true },
    ignoreTrailingSlashes: false,
    customizeAjv: addApiFormats,
  });
  await contract.init();
  // openapi-backend lists the spec's operations afresh (new objects, a RegExp per path) several times
  // for every request it routes; the spec does not change once loaded.
  const operations = contract.router.getOperations();
  contract.router.getOperations = () => operations;
  return contract;
}

/** The spec spells every path with a trailing slash; requests may omit it. */
export const withTrailingSlash = (path: string) => (path.endsWith('/') ? path : `${path}/`);

/**
 * The spec's path (its template, `/api/mailings/{id}/`) that a request path addresses, or undefined.
 * A concrete path wins over a templated one, as OpenAPI requires (`/api/mailings/fullinfo/` is not a
 * mailing id).
 */
export function pathTemplates(contract: OpenAPIBackend): (path: string) => string | undefined {
  const isTemplate = (path: string) => Number(path.includes('{'));
  const templates = [...new Set(contract.getOperations().map((operation) => operation.path))]
    .sort((a, b) => isTemplate(a) - isTemplate(b))
    .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
  return (path) => {
    const spelled = withTrailingSlash(path);
    return templates.find(({ pattern }) => pattern.test(spelled))?.template;
  };
}

/** The spec's paths whose every operation declares `security: []`: served to anyone. */
export function openPaths(contract: OpenAPIBackend): (path: string) => boolean {
  const secured = new Set(contract.getOperations().filter((operation) => !Array.isArray(operation.security) || operation.security.length > 0).map((operation) => operation.path));
  const open = new Set(contract.getOperations().map((operation) => operation.path).filter((template) => !secured.has(template)));
  const templateOf = pathTemplates(contract);
  return (path) => open.has(templateOf(path) ?? '');
}

/** The formats openapi.yaml uses beyond JSON Schema's own. */
function addApiFormats(ajv: Ajv): Ajv {
  addFormats(ajv);
  ajv.addFormat('date-time', { type: 'string', validate: isStorableDateTime });
  ajv.addFormat('iana-timezone', { type: 'string', validate: isZone });
  // A CSV body is streamed to its handler, which reads it row by row; no schema sees it whole.
  ajv.addFormat('client-csv', { type: 'string', validate: () => true });
  return ajv;
}

/** A validator for one of the spec's component schemas, with the formats the contract uses. */
function schemaValidator(contract: OpenAPIBackend, name: string): ValidateFunction {
  const schemas = (contract.definition as { components: { schemas: Record<string, object> } }).components.schemas;
  const ajv = addApiFormats(new Ajv({ allErrors: true, strict: false }));
  // Every component under its own $ref, so that a schema's references resolve whether or not dereferenced.
  ajv.addSchema({ $id: 'spec', components: { schemas } });
  return ajv.compile({ $ref: `spec#/components/schemas/${name}` });
}

/** The fields of one of the spec's object schemas, in the spec's order, and which of them are required. */
export function schemaFields(contract: OpenAPIBackend, name: string): { fields: string[]; required: string[] } {
  const schemas = (contract.definition as { components: { schemas: Record<string, { properties?: object; required?: string[] }> } }).components.schemas;
  const schema = schemas[name];
  if (!schema?.properties) throw new Error(`the spec has no object schema ${name}`);
  return { fields: Object.keys(schema.properties), required: schema.required ?? [] };
}

type SchemaCheck = (value: unknown) => FieldError[];
const checks = new WeakMap<OpenAPIBackend, Map<string, SchemaCheck>>();

/**
 * Checks input that does not arrive as a JSON body against one of the spec's component schemas (the
 * rows of a CSV import as `ClientInput`), its problems named as a body's are; compiled once per contract.
 */
export function schemaCheck(contract: OpenAPIBackend, name: string): SchemaCheck {
  let ofContract = checks.get(contract);
  if (!ofContract) checks.set(contract, (ofContract = new Map()));
  let check = ofContract.get(name);
  if (!check) {
    const validate = schemaValidator(contract, name);
    ofContract.set(name, (check = (value) => (validate(value) ? [] : (validationProblem(validate.errors ?? []).errors ?? []))));
  }
  return check;
}
