// Declares a route from zod schemas: they validate the request (all parts at once, so a 400 lists every bad
// field of params, query and body together) and, turned into JSON Schema, document it in the OpenAPI
// document. Handlers receive typed, validated input and the authenticated caller.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { hasLoneSurrogate } from '../../domain/text.ts';
import { type Access, type Principal, principalOf } from './auth.ts';
import { type FieldProblem, fieldProblems, RequestValidationError } from './errors.ts';
import { ErrorBody } from './schemas.ts';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** The caller; routes with access 'public' must not ask. */
  readonly principal: () => Principal;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface RouteSpec<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly access: Access;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** Success status; 204 sends no body. */
  readonly status?: 200 | 201 | 202 | 204;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** The route also takes a text/csv body, handed to the handler as a stream (never buffered). */
  readonly csv?: boolean;
  /** Documented success body (omit for 204); `text/csv` for CSV downloads. */
  readonly response?: z.ZodType | 'text/csv';
  readonly handler: (input: RouteInput<Out<P>, Out<Q>, Out<B>>) => Promise<unknown>;
}

/** JSON Schema of a zod schema, as OpenAPI 3.1 takes it (draft 2020-12 without the $schema marker). */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const errorSchema = jsonSchema(ErrorBody, 'output');
const SUCCESS: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted: the run is queued', 204: 'Done' };

function responses(
  spec: RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>,
): Record<string, unknown> {
  const ok = spec.status ?? 200;
  const out: Record<string, unknown> = {};
  if (ok === 204) out['204'] = { type: 'null', description: 'done; no body' };
  else if (spec.response === 'text/csv')
    out[String(ok)] = { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } };
  else if (spec.response) out[String(ok)] = { description: SUCCESS[ok], ...jsonSchema(spec.response, 'output') };
  if (spec.access !== 'public') {
    out['4XX'] = {
      ...errorSchema,
      description: 'error: 400 invalid_input, 401, 403, 404, 409, 413, 422 with {error: {code, message, details?}}',
    };
  }
  return out;
}

/**
 * Every string (and key) holding a lone UTF-16 surrogate, by path: no field of any route can store or
 * send one faithfully (see domain/text.ts), so they are refused before the schemas run. The walk keeps the
 * path as a stack of steps and spells it out only for a problem: a 10,000-member body would otherwise build
 * a path string per value (5% of a POST …/members) to throw them all away.
 */
function illFormedText(part: 'params' | 'query' | 'body', value: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const message = 'contains a lone UTF-16 surrogate (not valid Unicode)';
  const steps: (string | number)[] = [];
  const pathOf = () =>
    steps.reduce<string>((at, s) => (typeof s === 'number' ? `${at}[${s}]` : at ? `${at}.${s}` : s), '');
  const walk = (v: unknown, depth: number) => {
    if (problems.length >= 20 || depth > 64) return;
    if (typeof v === 'string') {
      if (hasLoneSurrogate(v)) problems.push({ path: pathOf() || part, in: part, message });
      return;
    }
    if (typeof v !== 'object' || v === null || isStream(v)) return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        steps.push(i);
        walk(v[i], depth + 1);
        steps.pop();
      }
      return;
    }
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      steps.push(k);
      if (hasLoneSurrogate(k)) problems.push({ path: pathOf(), in: part, message: `field name ${message}` });
      walk((v as Record<string, unknown>)[k], depth + 1);
      steps.pop();
    }
  };
  walk(value, 0);
  return problems;
}

/** Whether the request carried a CSV stream (then the body is not JSON and is not validated here). */
const isStream = (body: unknown): body is Readable =>
  typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function';

export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(app: FastifyInstance, spec: RouteSpec<P, Q, B>): void {
  const schema: Record<string, unknown> = {
    summary: spec.summary,
    tags: [...spec.tags],
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.access === 'public' ? { security: [] } : {}),
    ...(spec.params ? { params: jsonSchema(spec.params, 'input') } : {}),
    ...(spec.query ? { querystring: jsonSchema(spec.query, 'input') } : {}),
    response: responses(spec as RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>),
  };
  if (spec.body) {
    const json = jsonSchema(spec.body, 'input');
    schema.body = spec.csv
      ? {
          content: {
            'application/json': { schema: json },
            'text/csv': {
              schema: {
                type: 'string',
                description: 'CSV with a header row: user_id, device_id, any other column a user property',
              },
            },
          },
        }
      : json;
  }
  app.route({
    method: spec.method,
    url: spec.url,
    config: { access: spec.access, csv: spec.csv === true },
    schema,
    // Validation happens in the handler below from the zod schemas; the JSON Schemas are documentation.
    validatorCompiler: () => () => true,
    // Documented response shapes must not filter what handlers send (views.ts decides what leaves).
    serializerCompiler: () => (data) => JSON.stringify(data),
    handler: async (request, reply) => {
      const problems: FieldProblem[] = [
        ...illFormedText('params', request.params),
        ...illFormedText('query', request.query),
        ...illFormedText('body', request.body),
      ];
      if (problems.length > 0) throw new RequestValidationError(problems);
      const parse = <S extends z.ZodType | undefined>(
        part: 'params' | 'query' | 'body',
        s: S,
        value: unknown,
      ): Out<S> => {
        if (!s) return undefined as Out<S>;
        const result = s.safeParse(value);
        if (result.success) return result.data as Out<S>;
        problems.push(...fieldProblems(part, result.error.issues, value));
        return undefined as Out<S>;
      };
      const params = parse('params', spec.params as P, request.params);
      const query = parse('query', spec.query as Q, request.query ?? {});
      const body =
        spec.csv && isStream(request.body) ? (request.body as Out<B>) : parse('body', spec.body as B, request.body);
      if (problems.length > 0) throw new RequestValidationError(problems);
      const result = await spec.handler({ params, query, body, principal: () => principalOf(request), request, reply });
      if (reply.sent) return reply;
      reply.code(spec.status ?? 200);
      return spec.status === 204 ? reply.send() : result;
    },
  });
}
