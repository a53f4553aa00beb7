// The one way the UI talks to the server: JSON over /api/v1 with the session's bearer token. Errors come back
// as ApiError carrying the server's code, message and details (api.md "Errors"); a 401 also ends the session.
export interface ErrorDetails {
  readonly path?: string;
  readonly message?: string;
  readonly [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** Field problems of a 400 (details: [{path, message}]), keyed by their first path segment. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    if (!Array.isArray(this.details)) return out;
    for (const d of this.details as ErrorDetails[]) {
      const path = String(d.path ?? '').replace(/^body\./, '');
      if (path && d.message && !out[path]) out[path] = d.message;
    }
    return out;
  }
}

type Unauthorized = (reason: string) => void;
let token: string | null = null;
let onUnauthorized: Unauthorized = () => {};

export function setToken(next: string | null): void {
  token = next;
}

export function setUnauthorizedHandler(handler: Unauthorized): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  /** A raw text body (CSV upload) with its content type. */
  readonly text?: { readonly body: string; readonly type: string };
  readonly signal?: AbortSignal;
  /** Only for the sign-in check: a 401 is the answer, not the end of a session. */
  readonly tokenOverride?: string;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const bearer = opts.tokenOverride ?? token;
  const headers: Record<string, string> = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let body: string | undefined;
  if (opts.text) {
    headers['content-type'] = opts.text.type;
    body = opts.text.body;
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method: opts.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'the server could not be reached; check that cohort-sync is running');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const failure = new ApiError(
      res.status,
      err?.code ?? `http_${res.status}`,
      err?.message ?? `the server answered ${res.status}`,
      err?.details,
    );
    if (res.status === 401 && !opts.tokenOverride) onUnauthorized(failure.message);
    throw failure;
  }
  return parsed as T;
}

/** Query string from the defined entries only. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] != null && e[1] !== '');
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}` : '';
}
