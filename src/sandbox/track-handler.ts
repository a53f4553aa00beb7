// POST /users/track (docs/sandbox.md). Order of checks, each answered before the next is tried:
//   injected fault → 413 body size → 401 missing/unknown Bearer key ("Invalid API Key") → 403 key without
//   users.track ("Access Denied") → 429 burst limit (every authenticated request is charged) → 400 content
//   type / JSON / no data / over 75 objects ("Max Input Length Exceeded") → apply, 201 with per-object errors.
// Every answer carries X-RateLimit-* (reset as seconds remaining); a 429 also X-Ratelimit-Retry-After.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BurstSnapshot, burstHeaders } from './burst-budget.ts';
import { badRequest, SandboxError } from './errors.ts';
import { defaultFaultBody } from './faults.ts';
import { isJsonContentType, parseJson, readBody, sendJson } from './http-io.ts';
import { isJsonObject } from './json-checks.ts';
import type { Delay } from './partner-handler.ts';
import type { SandboxState } from './state.ts';

export const MAX_TRACK_BODY_BYTES = 4 * 1024 * 1024;
/** Objects per request across attributes, events and purchases. */
export const MAX_TRACK_OBJECTS = 75;
const NO_DATA = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.";

export async function handleTrackRequest(
  state: SandboxState,
  req: IncomingMessage,
  res: ServerResponse,
  delay: Delay,
): Promise<void> {
  const read = await readBody(req, MAX_TRACK_BODY_BYTES);
  const loggedBody = read.tooLarge ? null : tryParse(read.bytes);
  const record = (status: number, fault?: string): void =>
    state.log.record({
      at: new Date(state.now()).toISOString(),
      method: req.method ?? 'POST',
      path: '/users/track',
      status,
      identifiers: countObjects(loggedBody),
      body: loggedBody ?? null,
      ...(fault !== undefined && { fault }),
    });
  const key = bearerOf(req);

  const fault = state.faults.take('track');
  if (fault?.latencyMs) await delay(fault.latencyMs);
  if (fault?.drop) {
    record(0, 'drop');
    req.socket.destroy();
    return;
  }
  if (fault?.status !== undefined) {
    const snapshot = state.trackBudget.peek(key);
    const headers = burstHeaders(fault.status === 429 ? { ...snapshot, remaining: 0, allowed: false } : snapshot);
    sendJson(res, fault.status, fault.body ?? defaultFaultBody(fault.status), { ...headers, ...fault.headers });
    record(fault.status, `status ${fault.status}`);
    return;
  }

  let snapshot: BurstSnapshot = state.trackBudget.peek();
  let status: number;
  let body: unknown;
  try {
    if (read.tooLarge) throw new SandboxError(413, 'Request body too large (at most 4 MB)');
    const restKey = key === undefined ? undefined : state.findRestKey(key);
    if (!restKey) throw new SandboxError(401, 'Invalid API Key');
    snapshot = state.trackBudget.peek(restKey.key);
    if (!restKey.permissions.has('users.track')) throw new SandboxError(403, 'Access Denied');
    snapshot = state.trackBudget.take(restKey.key);
    if (!snapshot.allowed) throw new SandboxError(429, 'API rate limit exceeded');
    if (!isJsonContentType(req.headers['content-type']))
      throw badRequest(
        `Content-Type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`,
      );
    const parsed = parseJson(read.bytes);
    if (!isJsonObject(parsed)) throw badRequest(NO_DATA);
    const arrays = (['attributes', 'events', 'purchases'] as const).map((f) => parsed[f]);
    if (arrays.some((a) => a !== undefined && !Array.isArray(a))) throw badRequest(NO_DATA);
    const total = arrays.reduce<number>((n, a) => n + (Array.isArray(a) ? a.length : 0), 0);
    if (total === 0) throw badRequest(NO_DATA);
    if (total > MAX_TRACK_OBJECTS) throw badRequest('Max Input Length Exceeded');
    const outcome = restKey.workspace.track((parsed.attributes as unknown[] | undefined) ?? []);
    state.changed();
    status = 201;
    body = {
      message: 'success',
      attributes_processed: outcome.processed,
      ...(outcome.errors.length > 0 && { errors: outcome.errors }),
    };
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    status = error.status;
    body = { message: error.message };
  }
  sendJson(res, status, body, burstHeaders(snapshot));
  record(status);
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

function countObjects(body: unknown): number {
  if (!isJsonObject(body)) return 0;
  return Array.isArray(body.attributes) ? body.attributes.length : 0;
}

function tryParse(bytes: Buffer): unknown {
  try {
    return parseJson(bytes);
  } catch {
    return undefined;
  }
}
