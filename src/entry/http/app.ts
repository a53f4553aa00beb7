// The public HTTP API (api.md) as a Fastify app, built but not listening: `service.ts` listens, tests use
// inject(). Thin by design: routes validate, authorise and call app/ use cases; views shape the answers.
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import { accessOf, installAuth } from './auth.ts';
import type { HttpContext } from './context.ts';
import { clientErrorHandler, HttpError, installErrorHandling, toErrorResponse } from './errors.ts';
import { probeRoutes } from './readiness.ts';
import { defineRoute } from './route.ts';
import { cohortRoutes } from './routes/cohorts.ts';
import { destinationRoutes } from './routes/destination.ts';
import { explainRoutes } from './routes/explain.ts';
import { projectRoutes } from './routes/projects.ts';
import { runRoutes } from './routes/runs.ts';
import { syncRoutes } from './routes/syncs.ts';

export const DEFAULT_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
/** Time to receive a whole request, body included (a slow or stalled upload is cut off with 408). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;

function installBodyParsers(app: FastifyInstance): void {
  // Fastify's JSON parser (with its prototype-poisoning guard), except that an empty body is no body:
  // clients that send Content-Type: application/json on a bodiless POST get the route's own answer.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    if (raw === '' || (typeof raw === 'string' && raw.trim() === '')) {
      done(null, undefined);
      return;
    }
    json(request, raw as string, done);
  });
  // CSV is handed over as the raw stream, only to routes that take it; the importer reads it in chunks.
  app.addContentTypeParser('text/csv', (request, payload, done) => {
    if ((request.routeOptions.config as { csv?: boolean } | undefined)?.csv) done(null, payload);
    else
      done(new HttpError(415, 'unsupported_media_type', 'this route takes application/json, not text/csv'), undefined);
  });
}

function installAccessLog(app: FastifyInstance, deps: AppDeps): void {
  // Fastify's own request logging is off: it would log headers. This line has no headers, no query string
  // (explain takes user ids there) and no body.
  app.addHook('onResponse', async (request, reply) => {
    const line = {
      reqId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? null,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (accessOf(request) === 'public') deps.logger.debug(line, 'request');
    else deps.logger.info(line, 'request');
  });
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildHttpApp(ctx: HttpContext): Promise<FastifyInstance> {
  const requestTimeout = ctx.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    requestTimeout,
    // Node only enforces requestTimeout when the server is created with it, and checks it on this interval
    // (30 s by default): a tenth of the timeout keeps the cut-off close to the setting.
    http: { requestTimeout, connectionsCheckingInterval: Math.max(100, Math.min(30_000, requestTimeout / 10)) },
    clientErrorHandler,
    // X-Request-Id from a proxy is kept (so one id follows a request through every log), if it looks like
    // an id; otherwise one is made. It is echoed on every answer.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Errors found while routing (a malformed URL) never reach the error handler; answer them alike.
    frameworkErrors: (error, _request, reply) => {
      const answer = toErrorResponse(error) ?? {
        status: 400,
        body: { error: { code: 'invalid_input', message: 'the request could not be routed' } },
      };
      // Typed for the route generics Fastify cannot know here; it is the plain reply.
      void (reply as unknown as FastifyReply).code(answer.status).send(answer.body);
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  installErrorHandling(app, ctx.deps.logger);
  installBodyParsers(app);
  installAuth(app, {
    adminToken: ctx.adminToken,
    hash: ctx.tokens.hash,
    store: ctx.deps.store,
    ...(ctx.authFailureLimit ? { failureLimit: ctx.authFailureLimit } : {}),
  });
  installAccessLog(app, ctx.deps);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'cohort-sync',
        version: 'v1',
        description:
          'Keeps analytics cohorts in step with Braze. Every /api/v1 call except this document needs Authorization: Bearer <token>. Errors are {error: {code, message, details?}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      tags: ['projects', 'destination', 'cohorts', 'syncs', 'runs', 'explain', 'service'].map((name) => ({ name })),
    },
  });

  probeRoutes(app, ctx.deps);
  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/openapi.json',
    access: 'public',
    tags: ['service'],
    summary: 'This OpenAPI document',
    handler: async () => app.swagger(),
  });

  await projectRoutes(app, ctx);
  await destinationRoutes(app, ctx);
  await cohortRoutes(app, ctx);
  await syncRoutes(app, ctx);
  await runRoutes(app, ctx);
  await explainRoutes(app, ctx);
  for (const extra of ctx.extraRoutes ?? []) await extra(app);
  return app;
}
export type { HttpContext } from './context.ts';
