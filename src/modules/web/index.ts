// The web module: serves the built pages (`npm run build:web`) — the storefront at `/`, the warehouse board at
// `/warehouse` and the actor inspector at `/inspector` — and their bundles, with a strict Content-Security-Policy:
// everything comes from this node, nothing from a CDN. The pages speak the same protocol as any client.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import { defineModule } from '../../kernel/module.ts';

const PAGES = { '/': 'storefront', '/warehouse': 'warehouse', '/inspector': 'inspector' } as const;

/** Only this node's scripts, styles and connections (the pages' Socket.IO goes to the same origin). */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const webModule = defineModule({
  name: 'web',
  create: ({ config, logger }) => ({
    routes: (routes) => {
      if (!config.webDir) return;
      const root = path.resolve(config.webDir);
      if (!existsSync(path.join(root, 'storefront', 'index.html'))) {
        logger.warn({ webDir: root }, 'no built web pages here (run npm run build:web); the API is served without them');
        return;
      }
      // The bundles and the stylesheet; the HTML pages below.
      void routes.register(fastifyStatic, { root, prefix: '/web/', index: false, wildcard: true, cacheControl: true, maxAge: 60_000 });
      for (const [url, page] of Object.entries(PAGES)) {
        const html = readFileSync(path.join(root, page, 'index.html'), 'utf8');
        routes.get(url, async (_request, reply) =>
          reply
            .type('text/html; charset=utf-8')
            .header('content-security-policy', CSP)
            .header('x-content-type-options', 'nosniff')
            .header('referrer-policy', 'same-origin')
            .header('cache-control', 'no-cache')
            .send(html),
        );
      }
    },
  }),
});
