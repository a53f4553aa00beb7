// Bearer authentication and project isolation (api.md "Authentication", docs/product.md §1). Runs in onRequest,
// before any body is read: an unauthenticated upload is refused without being parsed, and another
// project's token learns nothing (404, as for ids that do not exist) whatever the body holds.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../../adapters/crypto/secrets.ts';
import { AppError } from '../../app/errors.ts';
import type { Store } from '../../ports/store.ts';

export type Access = 'public' | 'admin' | 'read' | 'write';

export type Principal =
  | { readonly kind: 'admin' }
  | {
      readonly kind: 'project';
      readonly projectId: string;
      readonly role: 'editor' | 'viewer';
      readonly tokenId: string;
      /** ISO-8601, or null for a token that never expires. */
      readonly expiresAt: string | null;
    };

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

/** Failed authentications allowed per client address and window; beyond them every attempt is 429. */
export interface AuthFailureLimit {
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_AUTH_FAILURE_LIMIT: AuthFailureLimit = { maxFailures: 20, windowMs: 60_000 };
const TRACKED_ADDRESSES = 10_000;
/** last_used_at is written at most this often per token: a read must not become a write each time. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Counts failed authentications per client address in fixed windows. Once an address is over the limit,
 * its requests are refused without checking the token (so guesses teach nothing) until the window ends.
 */
class FailureLimiter {
  private readonly byAddress = new Map<string, { windowStart: number; failures: number }>();
  constructor(private readonly limit: AuthFailureLimit) {}

  /** Seconds until the address may try again, or 0 when it may now. */
  blockedFor(address: string, now: number): number {
    const entry = this.byAddress.get(address);
    if (!entry || now - entry.windowStart >= this.limit.windowMs) return 0;
    return entry.failures >= this.limit.maxFailures
      ? Math.ceil((entry.windowStart + this.limit.windowMs - now) / 1000)
      : 0;
  }

  fail(address: string, now: number): void {
    let entry = this.byAddress.get(address);
    if (!entry || now - entry.windowStart >= this.limit.windowMs) {
      if (this.byAddress.size >= TRACKED_ADDRESSES) this.evict(now);
      entry = { windowStart: now, failures: 0 };
      this.byAddress.set(address, entry);
    }
    entry.failures += 1;
  }

  private evict(now: number): void {
    for (const [address, entry] of this.byAddress)
      if (now - entry.windowStart >= this.limit.windowMs) this.byAddress.delete(address);
    // Still full (a flood from many addresses): forget the oldest rather than grow without bound.
    for (const address of this.byAddress.keys()) {
      if (this.byAddress.size < TRACKED_ADDRESSES) break;
      this.byAddress.delete(address);
    }
  }
}

export function installAuth(
  app: FastifyInstance,
  opts: {
    adminToken: string;
    hash: (token: string) => string;
    store: Store;
    failureLimit?: AuthFailureLimit;
    now?: () => number;
  },
): void {
  const limiter = new FailureLimiter(opts.failureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT);
  const now = opts.now ?? Date.now;
  // "Last used" is the last request the token got through: recorded for a successful answer only, so a
  // refused request changes nothing stored. It is written before the answer is sent (onSend, not
  // onResponse): once a caller has its answer, the request's writes are done, and a later request never
  // sees this one's "last used" land in the middle of it. At most once a minute per token, so the wait is rare.
  const stale = new WeakSet<FastifyRequest>();
  app.addHook('onSend', async (request, reply, payload) => {
    const p = principals.get(request);
    if (!stale.has(request) || p?.kind !== 'project' || reply.statusCode >= 400) return payload;
    // Best effort: a busy store must not matter for a "last used" time.
    await opts.store.tokens.touch(p.tokenId, new Date(now()).toISOString()).catch(() => {});
    return payload;
  });
  const refuse = (request: FastifyRequest, message: string): never => {
    limiter.fail(request.ip, now());
    throw new AppError(401, 'unauthorized', message);
  };
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
    const wait = limiter.blockedFor(request.ip, now());
    if (wait > 0)
      throw new AppError(429, 'rate_limited', `too many failed authentications from your address; retry in ${wait} s`, {
        retryAfterSeconds: wait,
      });
    let principal: Principal;
    if (constantTimeEqual(token, opts.adminToken)) {
      principal = { kind: 'admin' };
    } else {
      const found = await opts.store.tokens.findByHash(opts.hash(token));
      if (!found) return refuse(request, 'the bearer token is not valid');
      const at = now();
      if (found.expiresAt !== null && Date.parse(found.expiresAt) <= at)
        return refuse(request, `the bearer token expired at ${found.expiresAt}`);
      if (found.lastUsedAt === null || at - Date.parse(found.lastUsedAt) >= TOUCH_EVERY_MS) stale.add(request);
      principal = {
        kind: 'project',
        projectId: found.projectId,
        role: found.role,
        tokenId: found.id,
        expiresAt: found.expiresAt,
      };
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
