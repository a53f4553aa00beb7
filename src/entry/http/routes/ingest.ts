// Amplitude's ingestion endpoints (docs/ingestion.md): POST /2/httpapi, POST /batch, POST /identify, with
// Amplitude's response bodies — always JSON with `code` equal to the status, which the SDKs read — and CORS
// for the browser SDK. They authenticate by the project's ingest key in the body, not by a bearer token.
// Registered in their own Fastify scope so their body parsing, size limits and errors are theirs alone.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasProblems, type Ingestion, type IngestOutcome, MAX_EVENTS_PER_REQUEST } from '../../../app/ingest.ts';
import { isPlainObject, minIdLengthOf } from '../../../domain/amplitude-event.ts';

const MIB = 1024 * 1024;
/** Amplitude's limits: /2/httpapi under 1 MB, /batch 20 MB; both 2,000 events. */
export const HTTPAPI_BODY_LIMIT = MIB;
export const BATCH_BODY_LIMIT = 20 * MIB;
export const IDENTIFY_BODY_LIMIT = MIB;

type Body = Record<string, unknown>;
type Answer = { status: number; body: Body };

const answer = (status: number, fields: Body = {}): Answer => ({ status, body: { code: status, ...fields } });
const tooLarge = () => answer(413, { error: 'Payload too large' });
const missingField = (field: string) => answer(400, { error: 'Request missing required field', missing_field: field });

function problemsBody(o: Extract<IngestOutcome, { kind: 'accepted' }>): Body {
  return {
    events_with_invalid_fields: o.invalidFields,
    events_with_missing_fields: o.missingFields,
    events_ingested: o.accepted,
  };
}

/** The answer to an outcome of the use case; `bytes` is the body's size, reported back as Amplitude does. */
function answerOf(outcome: IngestOutcome, bytes: number, noneValid: string): Answer {
  switch (outcome.kind) {
    case 'invalid_api_key':
      return answer(400, { error: 'Invalid API key' });
    case 'unavailable':
      return answer(503, { error: 'Service unavailable: the store cannot take writes now; retry later' });
    case 'throttled':
      return answer(429, {
        error: 'Too many requests for this project: the events per second budget is exceeded',
        eps_threshold: outcome.epsThreshold,
        throttled_devices: outcome.throttledDevices,
        throttled_users: outcome.throttledUsers,
        throttled_events: outcome.throttledEvents,
        exceeded_daily_quota_devices: {},
        exceeded_daily_quota_users: {},
      });
    case 'accepted':
      if (hasProblems(outcome))
        return answer(400, {
          error: outcome.accepted === 0 ? noneValid : 'Invalid field values on some events',
          ...problemsBody(outcome),
        });
      return answer(200, {
        events_ingested: outcome.accepted,
        payload_size_bytes: bytes,
        server_upload_time: Date.now(),
      });
  }
}

/** The JSON body of /2/httpapi and /batch, or the answer that refuses it. */
function parseEventsBody(raw: Buffer): { parsed: Body } | Answer {
  if (raw.length === 0) return answer(400, { error: 'Missing request body' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return answer(400, { error: 'Invalid JSON request body' });
  }
  if (!isPlainObject(parsed)) return answer(400, { error: 'Invalid JSON request body' });
  return { parsed };
}

async function events(ingestion: Ingestion, raw: Buffer): Promise<Answer> {
  const read = parseEventsBody(raw);
  if (!('parsed' in read)) return read;
  const body = read.parsed;
  if (typeof body.api_key !== 'string' || body.api_key === '') return missingField('api_key');
  if (body.events === undefined || body.events === null) return missingField('events');
  if (!Array.isArray(body.events)) return answer(400, { error: 'Invalid event JSON' });
  if (body.events.length === 0) return missingField('events');
  if (body.events.length > MAX_EVENTS_PER_REQUEST) return tooLarge();
  const minIdLength = minIdLengthOf(body.options);
  if (minIdLength === 'invalid')
    return answer(400, {
      error: 'Invalid JSON request body',
      invalid_field: 'options.min_id_length',
      message: 'options.min_id_length must be a whole number from 1 to 1024',
    });
  const outcome = await ingestion.ingestEvents({ apiKey: body.api_key, events: body.events, minIdLength });
  return answerOf(outcome, raw.length, 'Invalid field values on some events');
}

/** /identify takes a form (api_key, identification as JSON text); a JSON object with the same fields too. */
function identifyFields(request: FastifyRequest, raw: Buffer): { apiKey: unknown; identification: unknown } {
  const text = raw.toString('utf8');
  if (String(request.headers['content-type'] ?? '').includes('json')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (isPlainObject(parsed)) return { apiKey: parsed.api_key, identification: parsed.identification };
    } catch {
      // falls through to "no fields"
    }
    return { apiKey: undefined, identification: undefined };
  }
  const form = new URLSearchParams(text);
  return { apiKey: form.get('api_key') ?? undefined, identification: form.get('identification') ?? undefined };
}

async function identify(ingestion: Ingestion, request: FastifyRequest, raw: Buffer): Promise<Answer> {
  if (raw.length === 0) return answer(400, { error: 'Missing request body' });
  const fields = identifyFields(request, raw);
  if (typeof fields.apiKey !== 'string' || fields.apiKey === '') return missingField('api_key');
  let identification = fields.identification;
  if (typeof identification === 'string') {
    try {
      identification = JSON.parse(identification);
    } catch {
      identification = undefined;
    }
  }
  const entries = Array.isArray(identification)
    ? identification
    : isPlainObject(identification)
      ? [identification]
      : [];
  if (entries.length === 0) return answer(400, { error: 'missing_event' });
  if (entries.length > MAX_EVENTS_PER_REQUEST) return tooLarge();
  const outcome = await ingestion.identify({ apiKey: fields.apiKey, identifications: entries });
  return answerOf(outcome, raw.length, 'missing_event');
}

function send(reply: FastifyReply, a: Answer): FastifyReply {
  if (a.status === 503) reply.header('retry-after', '1');
  return reply.code(a.status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(a.body));
}

/** Fastify's own refusals (size, content length, aborted bodies) in Amplitude's shape; the rest is a 500. */
function errorAnswer(error: FastifyError): Answer {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) return tooLarge();
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return answer(status, { error: error.message });
  return answer(500, { error: 'Internal server error' });
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-max-age': '86400',
};

export interface IngestRoutesContext {
  readonly ingestion: Ingestion;
}

export function ingestRoutes(ctx: IngestRoutesContext): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    await app.register(async (scope) => {
      // Any body is read as bytes and parsed here: the SDKs send JSON, the browser may send text/plain,
      // /identify sends a form — and a bad body must get an Amplitude-shaped answer, not the API's.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      scope.addHook('onRequest', async (request, reply) => {
        reply.headers(CORS);
        if (request.method === 'OPTIONS') {
          const asked = request.headers['access-control-request-headers'];
          reply.header('access-control-allow-headers', typeof asked === 'string' ? asked : 'Content-Type, Accept');
        }
      });
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        const a = errorAnswer(error);
        if (a.status >= 500) ctx.ingestion.deps.logger.error({ err: error, route: request.url }, 'ingestion failed');
        return send(reply, a);
      });
      const routes: { url: string; bodyLimit: number; handle: (r: FastifyRequest, raw: Buffer) => Promise<Answer> }[] =
        [
          { url: '/2/httpapi', bodyLimit: HTTPAPI_BODY_LIMIT, handle: (_r, raw) => events(ctx.ingestion, raw) },
          { url: '/batch', bodyLimit: BATCH_BODY_LIMIT, handle: (_r, raw) => events(ctx.ingestion, raw) },
          { url: '/identify', bodyLimit: IDENTIFY_BODY_LIMIT, handle: (r, raw) => identify(ctx.ingestion, r, raw) },
        ];
      for (const route of routes) {
        scope.post(route.url, { bodyLimit: route.bodyLimit, config: { access: 'public' } }, async (request, reply) => {
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          return send(reply, await route.handle(request, raw));
        });
        scope.options(route.url, { config: { access: 'public' } }, async (_request, reply) => reply.code(204).send());
      }
    });
  };
}
