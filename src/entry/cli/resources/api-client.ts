// A small client of the HTTP API (api.md) for the resource commands. It knows the error envelope and the
// bearer token, nothing about resources. The token is sent, never put into a message.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../../../adapters/crypto/admin-token.ts';

/** An answer of the API with a status of 400 or more, carrying its `{error: {code, message, details}}`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = undefined,
  ) {
    super(message);
  }
}

/** The server could not be reached, or answered with something that is not the API. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  readonly query?: Query;
  /** Sent as JSON. */
  readonly json?: unknown;
  /** Sent as is (e.g. a file stream), with `contentType`. */
  readonly body?: ReadableStream<Uint8Array>;
  readonly contentType?: string;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;

  constructor(opts: { url: string; token: string | undefined }) {
    this.baseUrl = normaliseBaseUrl(opts.url);
    this.#token = opts.token;
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, json?: unknown): Promise<T> {
    return this.request<T>('POST', path, { json: json ?? {} });
  }

  patch<T>(path: string, json: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { json });
  }

  put<T>(path: string, json: unknown): Promise<T> {
    return this.request<T>('PUT', path, { json });
  }

  delete(path: string, query?: Query): Promise<unknown> {
    return this.request('DELETE', path, { query });
  }

  /** JSON answers are parsed; 204 gives null. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, opts);
    if (response.status === 204) return null as T;
    const text = await response.text();
    if (text === '') return null as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ClientError(
        `${method} ${path}: the server at ${this.baseUrl} answered ${response.status} with something that is not JSON`,
      );
    }
  }

  /** The raw successful response (e.g. a CSV download); errors are thrown as for request(). */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let body: RequestInit['body'];
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      body = opts.body;
    }
    let response: Response;
    try {
      // duplex is required by Node's fetch for a streamed body (it is not yet in the DOM typings).
      const init: RequestInit & { duplex?: 'half' } = { method, headers, body };
      if (opts.body !== undefined) init.duplex = 'half';
      response = await fetch(this.url(path, opts.query), init);
    } catch (error) {
      throw new ClientError(`could not reach cohort-sync at ${this.baseUrl}: ${causeText(error)}`);
    }
    if (response.status >= 400) throw await toApiError(response, this.#token !== undefined);
    return response;
  }

  url(path: string, query?: Query): string {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }
}

function normaliseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClientError(`--url: "${raw}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ClientError(`--url: "${raw}" must start with http:// or https://`);
  return url.toString().replace(/\/+$/, '');
}

function causeText(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is `cohort-sync serve` running there?)';
  return cause instanceof Error ? cause.message : String(cause);
}

async function toApiError(response: Response, hadToken: boolean): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : `http_${response.status}`;
  let message =
    typeof error?.message === 'string'
      ? error.message
      : `the server answered ${response.status} ${response.statusText}`.trim();
  if (response.status === 401 && !hadToken) message += ' (no token: pass --token or set COHORT_SYNC_TOKEN)';
  return new ApiError(response.status, code, message, error?.details);
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1', '0.0.0.0']);

/** True for a server on this machine, whose DATA_DIR may hold the generated admin token. */
export function isLocalUrl(raw: string): boolean {
  try {
    const host = new URL(raw).hostname.toLowerCase();
    return LOCAL_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

export interface TokenSources {
  readonly flag: string | undefined;
  readonly env: string | undefined;
  readonly url: string;
  readonly dataDir: string;
  /** Reads a file's text, or undefined if it is not there (injectable for tests). */
  readonly readFile?: (path: string) => string | undefined;
}

/** --token, then COHORT_SYNC_TOKEN, then (local servers only) the generated `<DATA_DIR>/admin-token`. */
export function resolveToken(sources: TokenSources): string | undefined {
  const given = sources.flag?.trim() || sources.env?.trim();
  if (given) return given;
  if (!isLocalUrl(sources.url)) return undefined;
  const read = sources.readFile ?? readIfPresent;
  return read(join(sources.dataDir, ADMIN_TOKEN_FILE))?.trim() || undefined;
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
