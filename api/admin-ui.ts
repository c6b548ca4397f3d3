import type Koa from 'koa';
import send from 'koa-send';
import path from 'node:path';
import { Problem } from './problem';

/**
 * The admin console's built files (`npm run build:admin`): admin/dist beside the sources; in the
 * compiled service, dist/admin/dist (`npm run build` copies it there, as it copies the spec).
 */
export const adminRoot = path.join(__dirname, '..', 'admin', 'dist');

const PREFIX = '/admin/';
/**
 * Vite names every asset by its content's hash: a new build gets new names, so they never go stale.
 * `npm run build:admin` leaves a .gz beside each, which koa-send serves to browsers that accept gzip.
 */
const ASSETS = `${PREFIX}assets/`;
const YEAR_MS = 365 * 24 * 3600 * 1000;

/**
 * Serves the single-page admin console at /admin/ (no CDN), and sends `/` there. Paths that are not
 * files are the app's own routes (/admin/mailings/42/show): they get index.html, which is never cached
 * so that a new build is picked up at once.
 */
export function adminUi(root = adminRoot): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/' || ctx.path === '/admin') return ctx.redirect(PREFIX);
    if (!ctx.path.startsWith(PREFIX)) return next();
    if (ctx.path.startsWith(ASSETS)) {
      ctx.vary('Accept-Encoding'); // a shared cache must not hand the gzip body to a client that did not ask for it
      await send(ctx, ctx.path.slice(PREFIX.length), { root, maxage: YEAR_MS, immutable: true }).catch(notBuilt);
      return;
    }
    const file = ctx.path.slice(PREFIX.length);
    const sent = file && !file.endsWith('/') ? await send(ctx, file, { root }).catch(() => undefined) : undefined;
    if (sent) return;
    ctx.set('Cache-Control', 'no-cache');
    await send(ctx, 'index.html', { root }).catch(notBuilt);
  };
}

function notBuilt(error: { status?: number }): never {
  if (error.status === 404) throw new Problem(404, 'Not found', 'no such file in the admin console (is it built? npm run build:admin)');
  throw error;
}
