// The web console's files at `/`, from dist/console/ (built by the console's own step).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** dist/console beside dist/src in the built package. */
export const DEFAULT_CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>factlog</title>
<p>The factlog console is not built. The HTTP API is at <a href="/api/health">/api/</a> (see docs/server.md).</p>`;

export function registerStatic(app: FastifyInstance, dir = DEFAULT_CONSOLE_DIR): void {
  const root = path.resolve(dir);
  app.get('/*', (request, reply) => {
    if (request.url.startsWith('/api/')) return reply.callNotFound();
    const wanted = decodeURIComponent((request.params as { '*': string })['*'] || 'index.html');
    const file = path.resolve(root, wanted);
    // never outside the console's directory; an unknown path is the single-page app's own route
    const inside = file.startsWith(root + path.sep);
    const target = inside && fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(root, 'index.html');
    if (!fs.existsSync(target)) return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type(TYPES[path.extname(target)] ?? 'application/octet-stream').send(fs.createReadStream(target));
  });
}
