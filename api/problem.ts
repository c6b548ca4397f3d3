import type { ErrorObject } from 'ajv';
import type Koa from 'koa';
import { DataError } from 'objection';
import { isConnectionError, isTransientConflict } from '../storage/database';
import { ConflictError, DomainError, InvalidInputError, MalformedInputError, NotFoundError, UnavailableError } from '../domain/errors';

export interface FieldError {
  field: string;
  message: string;
}

/** An HTTP failure with an RFC 9457 body; thrown anywhere in the request path, written by `problems()`. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    /** Headers the answer carries, e.g. `WWW-Authenticate` on a 401. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }
}

const domainStatus = new Map<abstract new (...args: never[]) => DomainError, [number, string]>([
  [MalformedInputError, [400, 'Invalid request']],
  [InvalidInputError, [422, 'Invalid input']],
  [NotFoundError, [404, 'Not found']],
  [ConflictError, [409, 'Conflict']],
  [UnavailableError, [503, 'Service unavailable']],
]);

function fromDomain(error: DomainError): Problem {
  const [status, title] = domainStatus.get(error.constructor as typeof DomainError) ?? [400, 'Bad request'];
  return new Problem(status, title, error.message, error.problems ?? (error.field ? [{ field: error.field, message: error.message }] : undefined));
}

/** Errors thrown by Koa's body parser and http-errors carry an `expose`d 4xx status. */
function fromHttpError(error: { status: number; message: string }): Problem {
  const titles: Record<number, string> = {
    400: 'Malformed request body',
    413: 'Request body too large',
    415: 'Unsupported media type',
  };
  const field = error.status === 400 || error.status === 413 ? [{ field: 'body', message: error.message }] : undefined;
  return new Problem(error.status, titles[error.status] ?? 'Bad request', error.message, field);
}

function toProblem(error: unknown): Problem | undefined {
  if (error instanceof Problem) return error;
  if (error instanceof DomainError) return fromDomain(error);
  if (error instanceof DataError) return new Problem(400, 'Invalid request', 'a value cannot be stored as given', [{ field: 'body', message: 'a value cannot be stored as given' }]);
  // zlib's errors: a body sent with a Content-Encoding it does not have.
  if (/^Z_/.test((error as { code?: string })?.code ?? '')) {
    return new Problem(400, 'Malformed request body', 'the body is not encoded as its Content-Encoding says', [{ field: 'body', message: 'is not encoded as its Content-Encoding says' }]);
  }
  if (isConnectionError(error)) return new Problem(503, 'Service unavailable', 'the database is unreachable; retry later');
  if (isTransientConflict(error)) return new Problem(503, 'Service unavailable', 'the request conflicted with concurrent work; retry it');
  const status = (error as { status?: number; expose?: boolean })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return fromHttpError(error as { status: number; message: string });
  return undefined;
}

/** Every 503 is worth repeating (a dependency away, a conflict, sending still stopping): after this long. */
export const RETRY_AFTER_SECONDS = 1;

/** The one place where failures become HTTP answers; anything unexpected is logged and answered 500. */
export function problems(): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const problem = toProblem(error);
      if (!problem) ctx.state.logger.error({ err: error }, 'request failed');
      const { status, title, detail, errors, headers } = problem ?? new Problem(500, 'Internal server error');
      ctx.status = status;
      if (headers) ctx.set(headers);
      if (status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.type = 'application/problem+json';
      ctx.body = { type: 'about:blank', title, status, ...(detail && { detail }), ...(errors && { errors }) };
    }
  };
}

/**
 * Names the offending field of an ajv error as a dotted path: body fields by their own name
 * (`phone_number`, `filter.tag`), parameters by where they are (`query.limit`, `path.id`).
 */
function fieldOf(error: ErrorObject): string {
  const segments = error.instancePath.split('/').filter(Boolean);
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const leaf = params.missingProperty ?? params.additionalProperty;
  if (leaf) segments.push(leaf);
  if (segments[0] === 'requestBody') segments.shift();
  return segments.join('.') || 'body';
}

function describe(error: ErrorObject): string {
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (params.additionalProperty) return 'is not a known field';
  if (params.missingProperty === 'requestBody') return 'is required';
  return error.message ?? 'is invalid';
}

export function validationProblem(errors: ErrorObject[]): Problem {
  const fields = errors.map((e) => ({ field: fieldOf(e), message: describe(e) }));
  const detail = fields.map((f) => `${f.field} ${f.message}`).join('; ');
  return new Problem(400, 'Invalid request', detail, fields);
}
