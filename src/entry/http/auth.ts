// Bearer authentication and project isolation (api.md "Authentication", product.md §1). Runs in onRequest,
// before any body is read: an unauthenticated upload is refused without being parsed, and another
// project's token learns nothing (404, as for ids that do not exist) whatever the body holds.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../../adapters/crypto/secrets.ts';
import { AppError } from '../../app/errors.ts';
import type { Store } from '../../ports/store.ts';

export type Access = 'public' | 'admin' | 'read' | 'write';

export type Principal =
  | { readonly kind: 'admin' }
  | { readonly kind: 'project'; readonly projectId: string; readonly role: 'editor' | 'viewer' };

const principals = new WeakMap<FastifyRequest, Principal>();

/** The caller of an authenticated route. Routes marked public have none. */
export function principalOf(request: FastifyRequest): Principal {
  const p = principals.get(request);
  if (!p) throw new AppError(401, 'unauthorized', 'this call needs Authorization: Bearer <token>');
  return p;
}

/** Whether the caller may see secrets of the project such as its ingest key: the admin and editors. */
export const isEditor = (p: Principal) => p.kind === 'admin' || p.role === 'editor';

export const accessOf = (request: FastifyRequest): Access | undefined =>
  (request.routeOptions.config as { access?: Access } | undefined)?.access;

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export function installAuth(
  app: FastifyInstance,
  opts: { adminToken: string; hash: (token: string) => string; store: Store },
): void {
  app.addHook('onRequest', async (request) => {
    const access = accessOf(request);
    // Routes that did not declare access (404s, routes added by other entry points) decide for themselves.
    if (access === undefined || access === 'public') return;
    const token = bearer(request);
    if (!token) throw new AppError(401, 'unauthorized', 'this call needs an Authorization: Bearer <token> header');
    let principal: Principal;
    if (constantTimeEqual(token, opts.adminToken)) {
      principal = { kind: 'admin' };
    } else {
      const found = await opts.store.tokens.findByHash(opts.hash(token));
      if (!found) throw new AppError(401, 'unauthorized', 'the bearer token is not valid');
      principal = { kind: 'project', projectId: found.projectId, role: found.role };
    }
    if (access === 'admin' && principal.kind !== 'admin')
      throw new AppError(403, 'forbidden', 'only the admin token can do this');
    const projectId = (request.params as Record<string, unknown> | undefined)?.projectId;
    if (principal.kind === 'project' && typeof projectId === 'string' && projectId !== principal.projectId) {
      throw new AppError(404, 'not_found', `project ${projectId} was not found`);
    }
    if (access === 'write' && principal.kind === 'project' && principal.role !== 'editor') {
      throw new AppError(403, 'forbidden', 'a viewer token can read but not change anything; use an editor token');
    }
    principals.set(request, principal);
  });
}
