import { HttpError } from 'react-admin';
import type { components } from '../../contract/schema';

type Problem = components['schemas']['Problem'];

/** The console's own path the browser is on, to come back to after signing in. */
const currentPath = () => `${window.location.pathname}${window.location.search}${window.location.hash}`;

/** Where the browser goes to sign in, coming back to `returnTo`. */
const signInUrl = (returnTo: string) => `/auth/login?return_to=${encodeURIComponent(returnTo)}`;

/** Leaves the single-page app for the sign-in page; what was asked for is never answered. */
export function goToSignIn(returnTo = currentPath()): Promise<never> {
  window.location.assign(signInUrl(returnTo));
  return new Promise<never>(() => undefined);
}

/**
 * Whether this API signs people in: with an OpenID Connect provider /auth/login redirects to it;
 * with API keys only it answers 404, and the console says so rather than showing that answer.
 */
export async function signInAvailable(): Promise<boolean> {
  const probe = await fetch(signInUrl('/admin/'), { redirect: 'manual', credentials: 'same-origin' });
  return probe.status !== 404;
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  body?: Blob | string;
  contentType?: string;
}

/**
 * Fields a form shows, by resource; a problem's field errors land next to these inputs, and any other
 * (`status`, `body`, `path.id`) is shown as the form's message.
 */
export type FormFields = readonly string[];

/**
 * One request to the API. Problems (application/problem+json) become react-admin HttpErrors whose
 * `body.errors` holds each field's message at its path in the form, which react-admin shows next to
 * the input; `root.serverError` carries what belongs to no input. A 401 is the authProvider's
 * (checkAuth, and checkError, which react-admin calls on every failed data request).
 */
export async function request<T>(path: string, options: RequestOptions = {}, formFields: FormFields = []): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  // A header a cross-site form cannot send: the API's CSRF protection for cookie sessions.
  if (method !== 'GET') headers['X-Requested-With'] = 'XMLHttpRequest';
  let body: BodyInit | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] = 'application/json';
  } else if (options.contentType) {
    headers['Content-Type'] = options.contentType;
  }
  const response = await fetch(path, { method, headers, body, credentials: 'same-origin' });
  const text = await response.text();
  const parsed = text && /json/.test(response.headers.get('Content-Type') ?? '') ? JSON.parse(text) : text;
  if (!response.ok) throw problemError(response.status, parsed, formFields);
  return parsed as T;
}

/** "filter.tag.2" names an item of the filter.tag input: the message goes to the input. */
function inputOf(field: string, formFields: FormFields): { input?: string; item?: number } {
  const segments = field.split('.');
  for (let length = segments.length; length > 0; length--) {
    const candidate = segments.slice(0, length).join('.');
    if (formFields.includes(candidate)) {
      const item = Number(segments[length]);
      return { input: candidate, item: Number.isInteger(item) ? item : undefined };
    }
  }
  // A group such as send_window speaks of its first input (`from` equal to `to`).
  const child = formFields.find((f) => f.startsWith(`${field}.`));
  return { input: child };
}

function problemError(status: number, body: unknown, formFields: FormFields): HttpError {
  const problem = (typeof body === 'object' && body ? body : { title: String(body || `HTTP ${status}`), status }) as Problem;
  const byInput = new Map<string, string[]>();
  const unplaced: string[] = [];
  for (const { field, message } of problem.errors ?? []) {
    const { input, item } = inputOf(field, formFields);
    if (!input) {
      unplaced.push(`${field}: ${message}`);
      continue;
    }
    const text = item === undefined ? message : `value ${item + 1} ${message}`;
    byInput.set(input, [...(byInput.get(input) ?? []), text]);
  }
  const errors: Record<string, unknown> = {};
  for (const [input, messages] of byInput) {
    // ajv reports every branch of a oneOf; the item-level messages are the ones worth reading.
    const specific = messages.filter((m) => m.startsWith('value '));
    setPath(errors, input, [...new Set(specific.length ? specific : messages)].join('; '));
  }
  const message = problem.detail ?? problem.title;
  if (unplaced.length || byInput.size === 0) setPath(errors, 'root.serverError', unplaced.length ? unplaced.join('; ') : message);
  return new HttpError(message, status, { ...problem, errors: byInput.size || unplaced.length ? errors : undefined });
}

function setPath(target: Record<string, unknown>, path: string, value: string): void {
  const segments = path.split('.');
  let node = target;
  for (const segment of segments.slice(0, -1)) node = (node[segment] ??= {}) as Record<string, unknown>;
  node[segments[segments.length - 1]] = value;
}
