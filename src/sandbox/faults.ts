// Injected faults: the failures Braze can produce (423, 429, 5xx, slowness, dropped connections) on demand,
// so retry and back-off code can be tested deterministically. Faults queue in order; each partner request
// takes the first queued fault whose path matches, and a fault is used up after `count` requests.
import { badRequest } from './errors.ts';
import { isJsonObject, rejectUnknownFields, requireObject } from './json-checks.ts';

/** Which endpoint a fault targets: the name call (`cohorts`), membership (`users`) or /users/track (`track`). */
export type PartnerEndpoint = 'cohorts' | 'users' | 'track';

export interface FaultSpec {
  /** Answer with this status instead of processing the request. */
  readonly status?: number;
  /** Extra response headers (override the rate-limit headers, e.g. `Retry-After`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Response body for `status`; defaults to `{"message": <a Braze-like text>}`. */
  readonly body?: unknown;
  /** Delay before answering; without `status` or `drop` the request is then processed normally. */
  readonly latencyMs?: number;
  /** Destroy the connection after reading the body, without answering and without applying the request. */
  readonly drop?: boolean;
  /** How many matching requests this fault applies to (default 1). */
  readonly count?: number;
  /** Limit to one endpoint (default: any). */
  readonly path?: PartnerEndpoint;
}

export interface QueuedFault extends FaultSpec {
  readonly remaining: number;
}

const FAULT_FIELDS = ['status', 'headers', 'body', 'latencyMs', 'drop', 'count', 'path'] as const;

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized access',
  404: 'Not found',
  423: 'Resource locked',
  429: 'Rate limit exceeded',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

export function defaultFaultBody(status: number): { message: string } {
  return { message: DEFAULT_MESSAGES[status] ?? (status < 400 ? 'success' : `Injected error ${status}`) };
}

export class FaultQueue {
  private queue: { spec: FaultSpec; remaining: number }[] = [];

  add(specs: readonly FaultSpec[]): void {
    // Validate all first so a bad entry leaves the queue as it was.
    const parsed = parseFaults(specs);
    for (const spec of parsed) this.queue.push({ spec, remaining: spec.count ?? 1 });
  }

  clear(): void {
    this.queue = [];
  }

  list(): QueuedFault[] {
    return this.queue.map((q) => ({ ...q.spec, remaining: q.remaining }));
  }

  /** Takes one use of the first fault matching `endpoint`, if any. */
  take(endpoint: PartnerEndpoint): FaultSpec | undefined {
    const index = this.queue.findIndex((q) => q.spec.path === undefined || q.spec.path === endpoint);
    const entry = this.queue[index];
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.queue.splice(index, 1);
    return entry.spec;
  }
}

export function parseFaults(value: unknown): FaultSpec[] {
  if (!Array.isArray(value)) throw badRequest('faults must be an array');
  return value.map((raw, i) => parseFault(raw, `faults[${i}]`));
}

function parseFault(raw: unknown, path: string): FaultSpec {
  const object = requireObject(raw, path);
  rejectUnknownFields(object, FAULT_FIELDS, path);
  const { status, headers, body, latencyMs, drop, count } = object;
  const endpoint = object.path;
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 200 && (status as number) <= 599)) {
    throw badRequest(`${path}.status must be an HTTP status between 200 and 599`);
  }
  if (latencyMs !== undefined && !(typeof latencyMs === 'number' && Number.isFinite(latencyMs) && latencyMs >= 0)) {
    throw badRequest(`${path}.latencyMs must be a non-negative number`);
  }
  if (drop !== undefined && typeof drop !== 'boolean') throw badRequest(`${path}.drop must be a boolean`);
  if (count !== undefined && !(Number.isSafeInteger(count) && (count as number) >= 1)) {
    throw badRequest(`${path}.count must be a positive integer`);
  }
  if (endpoint !== undefined && endpoint !== 'cohorts' && endpoint !== 'users' && endpoint !== 'track') {
    throw badRequest(`${path}.path must be "cohorts", "users" or "track"`);
  }
  if (headers !== undefined) {
    if (
      !isJsonObject(headers) ||
      !Object.values(headers).every((v) => typeof v === 'string' || typeof v === 'number')
    ) {
      throw badRequest(`${path}.headers must be an object of string values`);
    }
  }
  // A fault that changes nothing would silently eat a request slot; refuse it.
  if (status === undefined && latencyMs === undefined && drop !== true) {
    throw badRequest(`${path} must set status, latencyMs or drop`);
  }
  return {
    ...(status !== undefined && { status: status as number }),
    ...(headers !== undefined && {
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])),
    }),
    ...(body !== undefined && { body }),
    ...(latencyMs !== undefined && { latencyMs }),
    ...(drop !== undefined && { drop }),
    ...(count !== undefined && { count: count as number }),
    ...(endpoint !== undefined && { path: endpoint }),
  };
}
