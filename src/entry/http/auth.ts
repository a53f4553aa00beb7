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

const ACCESS_LEVELS: readonly Access[] = ['public', 'admin', 'read', 'write'];
const isAccess = (value: unknown): value is Access => ACCESS_LEVELS.includes(value as Access);

const UNDECLARED_MESSAGE = (url: string | undefined) =>
  `route ${url ?? '?'} declares no access level, so it refuses every request: declare config.access ` +
  "('public' | 'read' | 'write' | 'admin'), e.g. with defineRoute or declareAccess (docs/security.md)";

/**
 * Gives every route registered later in this (encapsulated) scope the access level `access` unless it
 * declares its own — for plugins whose routes cannot take a config, such as @fastify/static.
 */
export function declareAccess(scope: FastifyInstance, access: Access): void {
  scope.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { access?: Access };
    if (config.access === undefined) route.config = { ...config, access } as typeof route.config;
  });
}

export const accessOf = (request: FastifyRequest): Access | undefined =>
  (request.routeOptions.config as { access?: Access } | undefined)?.access;

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  /** undefined: the route declared none and refuses every request. */
  readonly access: Access | undefined;
}

const tables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route registered after installAuth, with the access level it declared (tests walk this). */
export const routeTable = (app: FastifyInstance): readonly RouteEntry[] => tables.get(app) ?? [];

export function installAuth(
  app: FastifyInstance,
  opts: { adminToken: string; hash: (token: string) => string; store: Store },
): void {
  const table: RouteEntry[] = [];
  tables.set(app, table);
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: unknown } | undefined)?.access;
    for (const method of [route.method].flat())
      table.push({ method, url: route.url, access: isAccess(access) ? access : undefined });
  });
  app.addHook('onRequest', async (request) => {
    const access = accessOf(request);
    if (access === 'public') return;
    // Fail closed: a route that forgot to say who may call it is refused to everyone, the admin included.
    // Unmatched URLs go on to the 404 handler, which serves nothing.
    if (!isAccess(access)) {
      if (request.is404) return;
      throw new AppError(403, 'route_access_undeclared', UNDECLARED_MESSAGE(request.routeOptions.url));
    }
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
