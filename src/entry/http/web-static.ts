// Serves the built web UI (web/dist, docs/ui.md) from the API's own server: files by path, and index.html
// for every other GET that is not an API, ingestion or service path, so client-side routes survive a reload.
// Paths the server owns (/api/v1, /2/httpapi, /batch, /identify, /healthz, /readyz, /metrics, /sandbox) are
// never answered with the page: an unknown one keeps its JSON 404.
import { existsSync, statSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export const WEB_DIST = resolve(import.meta.dirname, '..', '..', '..', 'web', 'dist');

const SERVER_PATHS = /^\/(api|2|batch|identify|healthz|readyz|metrics|sandbox)(\/|$|\?)/;

export function isServerPath(url: string): boolean {
  return SERVER_PATHS.test(url);
}

/** The file under `root` a URL path names, or null (no such file, a directory, or outside `root`). */
function fileFor(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const relative = normalize(decoded).replace(/^([/\\])+/, '');
  const full = join(root, relative);
  if (!full.startsWith(root + '/') || !existsSync(full)) return null;
  return statSync(full).isFile() ? relative : null;
}

export async function webRoutes(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? WEB_DIST;
  if (!existsSync(join(root, 'index.html'))) return; // not built: the API still serves (npm start builds first)
  await app.register(fastifyStatic, { root, serve: false });
  // The page and its assets are public; the API they call checks tokens (docs/security.md).
  app.get('/*', { schema: { hide: true }, config: { access: 'public' } }, (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (isServerPath(path)) return reply.callNotFound();
    const file = path === '/' ? null : fileFor(root, path);
    if (file) {
      // Vite names built assets by content hash: they never change under the same name.
      const immutable = file.startsWith('assets/');
      return reply.sendFile(file, { cacheControl: true, maxAge: immutable ? '365d' : 0, immutable });
    }
    if (/\.[a-z0-9]+$/i.test(path)) return reply.callNotFound(); // a missing asset is a 404, not the page
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
}
