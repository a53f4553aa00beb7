// The HTTP server: routes each request to the partner endpoints, the admin API or a 404, and owns the
// timers of latency faults so that closing the sandbox never waits on them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { adminAuthorized } from './admin-auth.ts';
import { matchAdminRoute, runAdminRoute } from './admin-routes.ts';
import { SandboxError } from './errors.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import { handlePartnerRequest } from './partner-handler.ts';
import { rateLimitHeaders } from './rate-limit.ts';
import type { SandboxState } from './state.ts';
import { handleTrackRequest } from './track-handler.ts';

/** Seeding many users is the largest admin body; 64 MB leaves room for a few hundred thousand. */
const MAX_ADMIN_BODY_BYTES = 64 * 1024 * 1024;

export interface SandboxServer {
  readonly server: Server;
  /** Ends pending latency-fault waits at once (their responses then go nowhere). */
  cancelDelays(): void;
}

/** `adminToken`: the bearer token the admin API wants, or null when it is open (admin-auth.ts). */
export function createSandboxServer(state: SandboxState, adminToken: string | null = null): SandboxServer {
  const pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pending.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pending.add(entry);
    });

  const server = createServer((req, res) => {
    route(state, adminToken, req, res, delay).catch((error: unknown) => {
      // The client went away mid-body (reading it then fails): nobody is left to answer, and it is no bug.
      if (res.destroyed || (req.destroyed && !req.complete)) return;
      // A bug in the sandbox, not in the client: say so plainly rather than imitate Braze (headers included,
      // since every partner answer carries them).
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`braze sandbox: internal error on ${req.method} ${req.url}: ${message}\n`);
      sendJson(res, 500, { message: `sandbox internal error: ${message}` }, rateLimitHeaders(state.budget.peek()));
    });
  });

  return {
    server,
    cancelDelays: () => {
      for (const entry of pending) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      pending.clear();
    },
  };
}

async function route(
  state: SandboxState,
  adminToken: string | null,
  req: IncomingMessage,
  res: ServerResponse,
  delay: (ms: number) => Promise<void>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox');
  const method = req.method ?? 'GET';
  let segments: string[];
  try {
    segments = url.pathname
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s));
  } catch {
    req.resume();
    sendJson(res, 400, { message: 'malformed percent-encoding in the path' });
    return;
  }

  if (segments[0] === 'sandbox') {
    if (!adminAuthorized(req, adminToken)) {
      req.resume();
      sendJson(
        res,
        401,
        { message: 'sandbox admin token required: send Authorization: Bearer <SANDBOX_ADMIN_TOKEN>' },
        { 'WWW-Authenticate': 'Bearer realm="sandbox admin"' },
      );
      return;
    }
    await handleAdmin(state, method, segments.slice(1), url.searchParams, req, res);
    return;
  }

  if (segments.length === 2 && segments[0] === 'users' && segments[1] === 'track' && method === 'POST') {
    await handleTrackRequest(state, req, res, delay);
    return;
  }

  const endpoint = partnerEndpointOf(segments, state.partnerSlug);
  if (endpoint && method === 'POST') {
    await handlePartnerRequest(state, endpoint, req, res, delay);
    return;
  }

  // Anything else is answered like Braze would, rate-limit headers included, and logged: a client that
  // builds the wrong URL (wrong slug, trailing slash) shows up in the request log.
  req.resume();
  const status = endpoint ? 405 : 404;
  const headers: Record<string, string> = {
    ...rateLimitHeaders(state.budget.peek()),
    ...(endpoint && { Allow: 'POST' }),
  };
  sendJson(res, status, { message: endpoint ? 'Method not allowed' : 'Not found' }, headers);
  state.log.record({
    at: new Date(state.now()).toISOString(),
    method,
    path: url.pathname,
    status,
    identifiers: 0,
    body: null,
  });
}

/** `cohorts` for /partners/{slug}/cohorts, `users` for /partners/{slug}/cohorts/users, else undefined. */
function partnerEndpointOf(segments: readonly string[], slug: string): 'cohorts' | 'users' | undefined {
  if (segments[0] !== 'partners' || segments[1] !== slug || segments[2] !== 'cohorts') return undefined;
  if (segments.length === 3) return 'cohorts';
  if (segments.length === 4 && segments[3] === 'users') return 'users';
  return undefined;
}

async function handleAdmin(
  state: SandboxState,
  method: string,
  segments: readonly string[],
  query: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const match = matchAdminRoute(method, segments);
  if (match.kind !== 'route') {
    req.resume();
    if (match.kind === 'wrong-method') {
      sendJson(res, 405, { message: `method ${method} not allowed here` }, { Allow: match.allowed.join(', ') });
    } else {
      sendJson(res, 404, { message: `no sandbox endpoint ${method} /sandbox/${segments.join('/')}` });
    }
    return;
  }
  try {
    const read = await readBody(req, MAX_ADMIN_BODY_BYTES);
    if (read.tooLarge) throw new SandboxError(413, `request body too large (at most ${MAX_ADMIN_BODY_BYTES} bytes)`);
    const body = parseJson(read.bytes);
    const answer = runAdminRoute(state, match.route, { params: match.params, query, body });
    sendJson(res, answer.status, answer.body);
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    sendJson(res, error.status, { message: error.message });
  }
}
