// The sandbox's own admin API under /sandbox: set up workspaces and users, look at what Braze would show
// (cohort list, segment members, raw identifiers), inspect the request log, inject faults, set the budget.
// Each route is a thin wrapper over a SandboxState method; bodies are JSON but, for curl's sake, the
// Content-Type is not checked here. The casts below are safe: every SandboxState method validates its
// input itself, because tests call those methods directly too.
import { keyHint } from './admin-auth.ts';
import { badRequest } from './errors.ts';
import type { FaultSpec } from './faults.ts';
import { rejectUnknownFields, requireObject } from './json-checks.ts';
import type { SandboxState } from './state.ts';
import type { SeedUser } from './user-store.ts';

export interface AdminRequest {
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The parsed JSON body, or undefined when the body was empty. */
  readonly body: unknown;
}

export interface AdminResponse {
  readonly status: number;
  readonly body: unknown;
}

interface Route {
  readonly method: string;
  /** Path segments after `/sandbox`; `:name` captures one segment (in order, into `params`). */
  readonly pattern: readonly string[];
  readonly handle: (state: SandboxState, req: AdminRequest) => AdminResponse;
}

const ok = (body: unknown): AdminResponse => ({ status: 200, body });

const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    pattern: ['workspaces'],
    handle: (state, { body }) => {
      const object = body === undefined ? {} : requireObject(body, 'request body');
      rejectUnknownFields(object, ['dataImportKey'], 'request body');
      const { dataImportKey, created } = state.ensureWorkspace(object.dataImportKey as string | undefined);
      return { status: created ? 201 : 200, body: { dataImportKey } };
    },
  },
  {
    // Keys are shown as hints only: whoever created a workspace was given its key then (docs/sandbox.md).
    method: 'GET',
    pattern: ['workspaces'],
    handle: (state) =>
      ok({
        items: state.listWorkspaces().map(({ dataImportKey, ...counts }) => ({
          dataImportKeyHint: keyHint(dataImportKey),
          ...counts,
        })),
      }),
  },
  {
    method: 'POST',
    pattern: ['workspaces', ':key', 'users'],
    handle: (state, { params, body }) => {
      const object = requireObject(body, 'request body');
      return ok({ users: state.seedUsers(param(params, 0), object.users as readonly SeedUser[]) });
    },
  },
  {
    method: 'GET',
    pattern: ['workspaces', ':key', 'cohorts'],
    handle: (state, { params }) => ok({ items: state.listCohorts(param(params, 0)) }),
  },
  {
    method: 'GET',
    pattern: ['workspaces', ':key', 'cohorts', ':cohortId', 'users'],
    handle: (state, { params }) => ok(state.cohortUsers(param(params, 0), param(params, 1))),
  },
  {
    method: 'GET',
    pattern: ['workspaces', ':key', 'cohorts', ':cohortId', 'identifiers'],
    handle: (state, { params }) => ok(state.cohortIdentifiers(param(params, 0), param(params, 1))),
  },
  {
    method: 'POST',
    pattern: ['workspaces', ':key', 'rest-keys'],
    handle: (state, { params, body }) => {
      const object = body === undefined ? {} : requireObject(body, 'request body');
      rejectUnknownFields(object, ['restApiKey', 'permissions'], 'request body');
      const key = state.createRestKey(param(params, 0), object);
      return { status: 201, body: { restApiKey: key.key, permissions: [...key.permissions] } };
    },
  },
  {
    method: 'GET',
    pattern: ['workspaces', ':key', 'profiles'],
    handle: (state, { params }) => {
      const ws = state.workspace(param(params, 0));
      return ok({ items: ws.profiles(), ...ws.trackTotals });
    },
  },
  {
    // "Which profiles match custom attribute <attribute> includes value <includes>" (or `is` for a boolean).
    method: 'GET',
    pattern: ['workspaces', ':key', 'attribute-segment'],
    handle: (state, { params, query }) => {
      const attribute = query.get('attribute');
      const includes = query.get('includes');
      const is = query.get('is');
      if (!attribute) throw badRequest('attribute is required');
      if ((includes === null) === (is === null)) throw badRequest('give exactly one of includes or is');
      const equals = is === 'true' ? true : is === 'false' ? false : is;
      return ok(
        state.workspace(param(params, 0)).attributeSegment(attribute, includes !== null ? { includes } : { equals }),
      );
    },
  },
  {
    method: 'GET',
    pattern: ['track-budget'],
    handle: (state) => ok(state.trackBudget.settings),
  },
  {
    method: 'PUT',
    pattern: ['track-budget'],
    handle: (state, { body }) => {
      const object = requireObject(body, 'request body');
      rejectUnknownFields(object, ['requests', 'windowMs'], 'request body');
      state.setTrackBudget(object.requests, object.windowMs ?? state.trackBudget.settings.windowMs);
      return ok(state.trackBudget.settings);
    },
  },
  {
    method: 'GET',
    pattern: ['requests'],
    handle: (state, { query }) => ok({ items: state.requests(limitParam(query)) }),
  },
  {
    method: 'DELETE',
    pattern: ['requests'],
    handle: (state) => {
      state.clearRequests();
      return ok({ message: 'request log cleared' });
    },
  },
  { method: 'GET', pattern: ['stats'], handle: (state) => ok(state.stats()) },
  {
    method: 'POST',
    pattern: ['faults'],
    handle: (state, { body }) => {
      const object = requireObject(body, 'request body');
      rejectUnknownFields(object, ['faults'], 'request body');
      state.injectFaults(object.faults as readonly FaultSpec[]);
      return ok({ faults: state.pendingFaults() });
    },
  },
  { method: 'GET', pattern: ['faults'], handle: (state) => ok({ faults: state.pendingFaults() }) },
  {
    method: 'DELETE',
    pattern: ['faults'],
    handle: (state) => {
      state.clearFaults();
      return ok({ faults: [] });
    },
  },
  { method: 'GET', pattern: ['budget'], handle: (state) => ok({ requestsPerHour: state.budget.requestsPerHour }) },
  {
    method: 'PUT',
    pattern: ['budget'],
    handle: (state, { body }) => {
      const object = requireObject(body, 'request body');
      rejectUnknownFields(object, ['requestsPerHour'], 'request body');
      state.setBudget(object.requestsPerHour as number);
      return ok({ requestsPerHour: state.budget.requestsPerHour });
    },
  },
  {
    method: 'POST',
    pattern: ['reset'],
    handle: (state) => {
      state.reset();
      return ok({ message: 'sandbox reset' });
    },
  },
];

export type AdminMatch =
  | { readonly kind: 'route'; readonly route: Route; readonly params: string[] }
  | { readonly kind: 'wrong-method'; readonly allowed: string[] }
  | { readonly kind: 'none' };

/** Finds the route for `segments` (the path after `/sandbox`, already decoded). */
export function matchAdminRoute(method: string, segments: readonly string[]): AdminMatch {
  const allowed: string[] = [];
  for (const route of ROUTES) {
    const params = matchPattern(route.pattern, segments);
    if (!params) continue;
    if (route.method === method) return { kind: 'route', route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'none' };
}

export function runAdminRoute(state: SandboxState, route: Route, req: AdminRequest): AdminResponse {
  return route.handle(state, req);
}

function matchPattern(pattern: readonly string[], segments: readonly string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (const [i, part] of pattern.entries()) {
    const segment = segments[i] as string;
    if (part.startsWith(':')) params.push(segment);
    else if (part !== segment) return undefined;
  }
  return params;
}

function param(params: readonly string[], index: number): string {
  const value = params[index];
  if (value === undefined) throw new Error(`route parameter ${index} missing`); // a bug in ROUTES
  return value;
}

function limitParam(query: URLSearchParams): number | undefined {
  const raw = query.get('limit');
  if (raw === null) return undefined;
  const limit = Number(raw);
  if (!Number.isSafeInteger(limit) || limit < 0) throw badRequest('limit must be a non-negative integer');
  return limit;
}
