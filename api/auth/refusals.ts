import { Problem } from '../problem';

const REALM = 'Bearer realm="mailing-service"';

/**
 * 401 with the challenge RFC 6750 asks for: the bare realm when no credentials came, with
 * `error="invalid_token"` when the ones that came were refused.
 */
export function unauthorized(detail: string, error?: 'invalid_token' | 'invalid_request'): Problem {
  const challenge = error ? `${REALM}, error="${error}"` : REALM;
  return new Problem(401, 'Unauthorized', detail, undefined, { 'WWW-Authenticate': challenge });
}

export const forbidden = (detail: string) => new Problem(403, 'Forbidden', detail);
