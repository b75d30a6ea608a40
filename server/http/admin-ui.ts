// Serves the built admin UI (dist/admin-ui): the page at / and at /setup (the first-start link), hashed assets cached for
// good, a strict Content-Security-Policy (own scripts and styles only, no inline code, nothing from other hosts).
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ADMIN_UI_DIR } from '../paths.js';

/** Only this server's own files; requests only to this server; the page cannot be framed. */
export const ADMIN_UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Vite names assets by their content hash, so a name never changes meaning: cache it for a year (RFC 8246). */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8'
};

interface UiFile {
  body: Buffer;
  type: string;
}

function readFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const relative = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(relative);
      else if (TYPES[path.extname(entry.name)]) files.set(relative, { body: fs.readFileSync(path.join(dir, relative)), type: TYPES[path.extname(entry.name)] });
    }
  };
  walk('');
  return files;
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Postfach</title>
<h1>The admin UI is not built</h1><p>Run <code>npm run build</code> in the Postfach folder and restart. The admin API at /api/v1 works meanwhile.</p></html>
`;

/**
 * Registers / and /setup (the page; the UI routes by the URL fragment, #/accounts, so no catch-all route can shadow the
 * API or other paths) and one route per file Vite wrote. Files are read once, at start.
 */
export function registerAdminUi(app: FastifyInstance, dir = ADMIN_UI_DIR): void {
  const files = fs.existsSync(path.join(dir, 'index.html')) ? readFiles(dir) : new Map<string, UiFile>();
  const index = files.get('index.html');
  for (const url of ['/', '/setup']) {
    app.get(url, { config: { access: 'public' } }, async (_request, reply) => {
      reply.header('content-security-policy', ADMIN_UI_CSP).type('text/html; charset=utf-8');
      return index ? reply.send(index.body) : reply.code(503).send(NOT_BUILT);
    });
  }
  for (const [name, file] of files) {
    if (name === 'index.html') continue;
    app.get(`/${name}`, { config: { access: 'public' } }, async (_request, reply) => {
      reply.header('cache-control', name.startsWith('assets/') ? IMMUTABLE : 'no-cache').type(file.type);
      return reply.send(file.body);
    });
  }
}
