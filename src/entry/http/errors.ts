// Every error leaves as `{error: {code, message, details?}}` (api.md "Errors"). Use-case errors carry their
// own status and code; Fastify's own (body parsing, limits, media types) are translated; anything else is
// a 500 whose details stay in the log, never in the answer.
import { STATUS_CODES as HTTP_REASONS } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { AppError } from '../../app/errors.ts';
import type { Logger } from '../../ports/logger.ts';

export type RequestPart = 'params' | 'query' | 'body';

export interface FieldProblem {
  readonly path: string;
  readonly in: RequestPart;
  readonly message: string;
}

/** A request that does not match its route's schema; lists every problem found in that part. */
export class RequestValidationError extends Error {
  override readonly name = 'RequestValidationError';
  readonly statusCode = 400;
  constructor(readonly fields: FieldProblem[]) {
    const first = fields[0];
    const more = fields.length > 1 ? ` (and ${fields.length - 1} more problem${fields.length > 2 ? 's' : ''})` : '';
    super(first ? `${first.path}: ${first.message}${more}` : 'invalid input');
  }
}

/** Refusals that only HTTP knows about (media types), with a status use cases never need. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

export function fieldProblems(part: RequestPart, issues: readonly z.core.$ZodIssue[], input: unknown): FieldProblem[] {
  if (part === 'body' && (input === null || input === undefined)) {
    return [{ path: 'body', in: part, message: 'a JSON body is required (Content-Type: application/json)' }];
  }
  const where = (path: readonly PropertyKey[]) => formatPath(path) || part;
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: where([...issue.path, key]), in: part, message: 'is not a known field' }))
      : [{ path: where(issue.path), in: part, message: issue.message }],
  );
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const body = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: { code, message, ...(details !== undefined ? { details } : {}) },
});

/** Fastify's own client errors, by their code: what we call them and what to say. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'payload_too_large',
    message: 'the request body is larger than this server accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'send the body as application/json (or text/csv where a CSV is accepted)',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'invalid_input',
    message: 'the Content-Length header does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'invalid_input',
    message: 'the body is empty but Content-Type says JSON',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_input', message: 'the body is not valid JSON' },
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_input', message: 'the URL is malformed' },
};

const STATUS_CODES: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
};

/** SQLite's lock errors: another connection held the write lock longer than busy_timeout. */
const STORE_BUSY = /^SQLITE_(BUSY|LOCKED)/;
const BUSY_RETRY_AFTER_SECONDS = 2;

export function toErrorResponse(
  error: unknown,
): { status: number; body: ErrorBody; headers?: Record<string, string> } | null {
  if (error instanceof AppError) {
    const wait = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    return {
      status: error.status,
      body: body(error.code, error.message, error.details),
      ...(typeof wait === 'number' ? { headers: { 'retry-after': String(wait) } } : {}),
    };
  }
  if (error instanceof HttpError) return { status: error.statusCode, body: body(error.code, error.message) };
  if (error instanceof RequestValidationError)
    return { status: 400, body: body('invalid_input', error.message, { fields: error.fields }) };
  const e = error as Partial<FastifyError> & { code?: unknown };
  if (typeof e.code === 'string' && STORE_BUSY.test(e.code))
    return {
      status: 503,
      body: body('store_busy', 'the store is busy with other writes; try again shortly'),
      headers: { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
    };
  if (typeof e.code === 'string') {
    const known = FASTIFY_ERRORS[e.code];
    if (known) return { status: known.status, body: body(known.code, known.message ?? e.message ?? known.code) };
  }
  if (error instanceof SyntaxError) return { status: 400, body: body('invalid_input', 'the body is not valid JSON') };
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500)
    return { status, body: body(STATUS_CODES[status] ?? 'bad_request', e.message ?? 'the request was refused') };
  return null;
}

export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error, request, reply) => {
    const known = toErrorResponse(error);
    if (known) {
      if (known.status === 401) reply.header('www-authenticate', 'Bearer');
      if (known.headers) reply.headers(known.headers);
      return reply.code(known.status).send(known.body);
    }
    logger.error(
      { err: error, method: request.method, route: request.routeOptions.url, reqId: request.id },
      'request failed',
    );
    return reply
      .code(500)
      .send(body('internal', `something went wrong on our side (request ${request.id}); it has been logged`));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/** Node's own refusals, raised before Fastify routes a request (malformed HTTP, limits, timeouts). */
function clientErrorAnswer(code: string | undefined): { status: number; body: ErrorBody } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, body: body('timeout', 'the request was not received in time; send it faster or smaller') };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        body: body('headers_too_large', 'the request headers are larger than this server accepts'),
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        body: body('payload_too_large', 'the chunk extensions are larger than this server accepts'),
      };
    default:
      return { status: 400, body: body('invalid_input', 'the request is not well-formed HTTP') };
  }
}

/**
 * Fastify's clientErrorHandler: answers in api.md's error shape, then closes the connection (its state is
 * unknown after a parse error or a timeout).
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = clientErrorAnswer(error.code);
  const text = JSON.stringify(answer.body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${answer.status} ${HTTP_REASONS[answer.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}
