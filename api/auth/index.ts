import type Koa from 'koa';
import { authenticate } from './authenticate';
import { authHandlers } from './handlers';
import type { AuthOptions } from './options';

export type { AuthOptions } from './options';

/** The middleware that lets callers in (ahead of everything but logging and problems) and the /auth/ operations. */
export async function createAuth(options: AuthOptions): Promise<{ middleware: Koa.Middleware[]; handlers: ReturnType<typeof authHandlers> }> {
  return { middleware: [authenticate(options)], handlers: authHandlers() };
}
