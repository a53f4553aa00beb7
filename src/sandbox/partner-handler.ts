// The two partner endpoints (docs/design.md §1). Order of checks, each answered before the next is tried:
//   injected fault → 413 body size → 400 content type / JSON / missing key fields → 401 partner key
//   → 401 client secret → 429 hourly budget (every authenticated request is charged, valid or not) → 400 body rules → apply.
// Every answer carries the X-RateLimit-* headers, as Braze's REST responses do.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, SandboxError } from './errors.ts';
import { defaultFaultBody, type FaultSpec, type PartnerEndpoint } from './faults.ts';
import { type BodyRead, isJsonContentType, parseJson, readBody, sendJson } from './http-io.ts';
import { type JsonObject, requireObject } from './json-checks.ts';
import { countIdentifiers, parseNameRequest, parseUsersRequest, readCredentials } from './partner-requests.ts';
import { type RateLimitSnapshot, rateLimitHeaders } from './rate-limit.ts';
import type { SandboxState } from './state.ts';

/** Braze's general REST body limit. */
export const MAX_PARTNER_BODY_BYTES = 4 * 1024 * 1024;

export type Delay = (ms: number) => Promise<void>;

interface Outcome {
  readonly status: number;
  readonly body: unknown;
  readonly snapshot: RateLimitSnapshot;
}

export async function handlePartnerRequest(
  state: SandboxState,
  endpoint: PartnerEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  delay: Delay,
): Promise<void> {
  const read = await readBody(req, MAX_PARTNER_BODY_BYTES);
  // Parsed once, for the log and for the checks: a membership body is ~15 kB of JSON (docs/benchmarks.md).
  const parsed = read.tooLarge ? null : tryParse(read.bytes);
  const loggedBody = parsed?.ok ? parsed.value : undefined;
  const record = (status: number, fault?: string): void =>
    state.log.record({
      at: new Date(state.now()).toISOString(),
      method: req.method ?? 'POST',
      path: pathOf(req),
      status,
      identifiers: endpoint === 'users' ? countIdentifiers(loggedBody) : 0,
      body: loggedBody ?? null,
      ...(fault !== undefined && { fault }),
    });

  const fault = state.faults.take(endpoint);
  if (fault?.latencyMs) await delay(fault.latencyMs);
  if (fault?.drop) {
    // Nothing is applied and nothing answered: the client sees a reset, as after a network failure.
    record(0, describeFault(fault));
    req.socket.destroy();
    return;
  }
  if (fault?.status !== undefined) {
    const snapshot = state.budget.peek(knownSecret(state, loggedBody));
    // An injected 429 must look like a real one: nothing remaining until the reset.
    const headers = rateLimitHeaders(fault.status === 429 ? { ...snapshot, remaining: 0 } : snapshot);
    sendJson(res, fault.status, fault.body ?? defaultFaultBody(fault.status), { ...headers, ...fault.headers });
    record(fault.status, describeFault(fault));
    return;
  }

  const outcome = processRequest(state, endpoint, req, read, parsed);
  sendJson(res, outcome.status, outcome.body, rateLimitHeaders(outcome.snapshot));
  record(outcome.status, fault ? describeFault(fault) : undefined);
}

function processRequest(
  state: SandboxState,
  endpoint: PartnerEndpoint,
  req: IncomingMessage,
  read: BodyRead,
  parsed: Parsed | null,
): Outcome {
  let snapshot = state.budget.peek();
  try {
    if (read.tooLarge) {
      throw new SandboxError(
        413,
        `request body too large: ${read.received} bytes; at most ${MAX_PARTNER_BODY_BYTES} bytes (4 MB)`,
      );
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      throw badRequest(
        `Content-Type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`,
      );
    }
    if (!parsed?.ok) throw badRequest('request body is not valid JSON');
    const body = requireObject(parsed.value, 'request body');

    // Both keys are required fields (a missing one is a malformed body, 400); a key that is present but
    // unknown is a 401 with Braze's own texts, which our client shows to the user (docs/design.md §1).
    requireKeyField(body, 'partner_api_key');
    requireKeyField(body, 'client_secret');
    const { partnerApiKey, clientSecret } = readCredentials(body);
    const workspace = clientSecret === undefined ? undefined : state.findWorkspace(clientSecret);
    if (workspace) snapshot = state.budget.peek(workspace.dataImportKey);
    if (partnerApiKey === undefined || !state.partnerKeys.has(partnerApiKey)) {
      throw new SandboxError(401, 'Invalid Partner API key');
    }
    if (!workspace) throw new SandboxError(401, 'Invalid client secret');

    snapshot = state.budget.take(workspace.dataImportKey);
    if (!snapshot.allowed) {
      throw new SandboxError(429, `Rate limit exceeded: ${snapshot.limit} requests per hour for this Data Import Key`);
    }

    if (endpoint === 'cohorts') {
      const request = parseNameRequest(body);
      workspace.nameCohort(request.cohortId, request.name, request.createdAt);
    } else {
      const request = parseUsersRequest(body);
      workspace.applyChanges(request.cohortId, request.changes);
    }
    state.changed();
    return { status: 201, body: { message: 'success' }, snapshot };
  } catch (error) {
    if (error instanceof SandboxError) return { status: error.status, body: { message: error.message }, snapshot };
    throw error;
  }
}

/** Absent or not a string is a 400; any string (even empty) goes on to authentication and its 401. */
function requireKeyField(body: JsonObject, field: 'partner_api_key' | 'client_secret'): void {
  const value = body[field];
  if (value === undefined || value === null) throw badRequest(`${field} is required`);
  if (typeof value !== 'string') throw badRequest(`${field} must be a string`);
}

type Parsed = { readonly ok: true; readonly value: unknown } | { readonly ok: false };

/** The body as parseJson reads it (an empty body is `undefined`), or not JSON. */
function tryParse(bytes: Buffer): Parsed {
  try {
    return { ok: true, value: parseJson(bytes) };
  } catch {
    return { ok: false };
  }
}

/** The budget key an injected answer should report, when the body names a real workspace. */
function knownSecret(state: SandboxState, body: unknown): string | undefined {
  const { clientSecret } = readCredentials(body);
  return clientSecret !== undefined && state.findWorkspace(clientSecret) ? clientSecret : undefined;
}

function describeFault(fault: FaultSpec): string {
  const parts: string[] = [];
  if (fault.latencyMs) parts.push(`latency ${fault.latencyMs}ms`);
  if (fault.drop) parts.push('drop');
  else if (fault.status !== undefined) parts.push(`status ${fault.status}`);
  return parts.join(', ');
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://sandbox').pathname;
}
