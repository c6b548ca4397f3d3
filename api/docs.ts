import type Router from '@koa/router';
import send from 'koa-send';
import { getAbsoluteFSPath } from 'swagger-ui-dist';
import path from 'node:path';
import { specPath } from './contract';

// Swagger UI's own initializer points at the petstore; this one points at our spec.
const initializer = `window.onload = () => {
  window.ui = SwaggerUIBundle({
    url: '/openapi.yaml',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
  });
};
`;

/** Serves the spec and a Swagger UI for it from the installed package: no CDN is needed. */
export function docs(router: Router): void {
  const assets = getAbsoluteFSPath();
  router.get('/openapi.yaml', (ctx) => send(ctx, path.basename(specPath), { root: path.dirname(specPath) }));
  router.get('/docs', (ctx) => ctx.redirect('/docs/'));
  router.get('/docs/', (ctx) => send(ctx, 'index.html', { root: assets }));
  router.get('/docs/swagger-initializer.js', (ctx) => {
    ctx.type = 'application/javascript';
    ctx.body = initializer;
  });
  router.get('/docs/:file', (ctx) => send(ctx, ctx.params.file, { root: assets }));
}
