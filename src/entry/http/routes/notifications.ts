// Notification settings over HTTP: the project's signed webhook, its delivery log, a test webhook and a
// test e-mail. A self-contained Fastify plugin over the HTTP layer's helpers (defineRoute, installAuth,
// toErrorResponse): it answers errors in api.md's shape and, unless the host app authenticates already,
// checks bearer tokens itself (admin token, or a project token: viewers read, editors change; another
// project's token gets 404).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashToken } from '../../../adapters/crypto/secrets.ts';
import type { AppDeps } from '../../../app/deps.ts';
import { AppError } from '../../../app/errors.ts';
import { sendTestEmail } from '../../../app/notifications.ts';
import {
  clearWebhook,
  getWebhook,
  listWebhookDeliveries,
  sendTestWebhook,
  setWebhook,
  type WebhookSender,
  type WebhookUrlPolicy,
} from '../../../app/webhooks.ts';
import type { Mailer } from '../../../ports/mailer.ts';
import { installAuth } from '../auth.ts';
import { toErrorResponse } from '../errors.ts';
import { defineRoute } from '../route.ts';
import { listOf } from '../schemas.ts';

export interface NotificationRoutesContext {
  readonly deps: AppDeps;
  readonly mailer: Mailer;
  /** Enables POST …/webhook/test; the same sender the RunNotifier uses. */
  readonly webhooks?: WebhookSender;
  readonly webhookPolicy?: WebhookUrlPolicy;
  /** The plugin checks bearer tokens itself against this admin token (and the store's project tokens)… */
  readonly adminToken?: string;
  /** …unless the host app already ran auth.ts's installAuth, which reads each route's `config.access`. */
  readonly hostAuthenticates?: boolean;
}

const NO_NUL = /^[^\u0000]*$/;
const ProjectParams = z.object({ projectId: z.string().min(1).max(100).regex(NO_NUL) });
const WebhookPut = z.strictObject({
  url: z
    .string()
    .min(1)
    .max(2048)
    .regex(NO_NUL, 'must not contain NUL characters')
    .describe('http:// or https:// URL that receives the events'),
  secret: z
    .string()
    .max(500)
    .regex(NO_NUL, 'must not contain NUL characters')
    .optional()
    .describe(
      'signing secret (at least 16 characters); stored encrypted, never returned; leave out to keep the current one',
    ),
});
const DeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('page size (1–500, default 50)'),
  cursor: z.string().max(2000).regex(NO_NUL).optional().describe('nextCursor of the previous page, unchanged'),
});
const email = z.email().max(320);
const TestEmail = z.strictObject({
  to: z
    .union([email, z.array(email).min(1).max(100)])
    .optional()
    .describe("default: the project's notificationEmails"),
});

const WebhookView = z.object({
  url: z.string().nullable(),
  secretHint: z.string().optional().describe('…last4 of the secret'),
});
const Delivery = z.object({
  id: z.string(),
  projectId: z.string(),
  event: z.enum(['run.succeeded', 'run.failed', 'run.recovered', 'webhook.test']),
  url: z.string(),
  runId: z.string().nullable(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  responseStatus: z.number().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const TestEmailResult = z.object({
  to: z.array(z.string()),
  delivery: z.enum(['smtp', 'log']).describe('log: SMTP_URL is unset, the mail was only logged'),
});

const tags = ['notifications'] as const;

/**
 * Registers the routes in their own encapsulated context, so its error handler (and its auth hook, when it
 * authenticates itself) touch these routes only, whether it is called directly (HttpContext.extraRoutes)
 * or through app.register().
 */
export async function notificationRoutes(app: FastifyInstance, ctx: NotificationRoutesContext): Promise<void> {
  await app.register(async (scope) => routesIn(scope, ctx));
}

async function routesIn(app: FastifyInstance, ctx: NotificationRoutesContext): Promise<void> {
  const { deps } = ctx;
  if (!ctx.hostAuthenticates) {
    if (!ctx.adminToken)
      throw new Error(
        'notificationRoutes needs adminToken, or hostAuthenticates: true when the host app installed auth',
      );
    installAuth(app, { adminToken: ctx.adminToken, hash: hashToken, store: deps.store });
  }
  // Encapsulated: applies to these routes only, in api.md's error shape whatever the host does.
  app.setErrorHandler((error, request, reply) => {
    const known = toErrorResponse(error);
    if (known) {
      if (known.status === 401) reply.header('www-authenticate', 'Bearer');
      if (known.headers) reply.headers(known.headers);
      return reply.code(known.status).send(known.body);
    }
    deps.logger.error(
      { err: error, method: request.method, route: request.routeOptions.url, reqId: request.id },
      'request failed',
    );
    return reply.code(500).send({
      error: {
        code: 'internal',
        message: `something went wrong on our side (request ${request.id}); it has been logged`,
      },
    });
  });

  const base = '/api/v1/projects/:projectId';

  defineRoute(app, {
    method: 'GET',
    url: `${base}/webhook`,
    access: 'read',
    tags,
    params: ProjectParams,
    response: WebhookView,
    summary: "The project's webhook",
    description: 'The secret never comes back; secretHint shows its last 4 characters.',
    handler: ({ params }) => getWebhook(deps, params.projectId),
  });

  defineRoute(app, {
    method: 'PUT',
    url: `${base}/webhook`,
    access: 'write',
    tags,
    params: ProjectParams,
    body: WebhookPut,
    status: 204,
    summary: "Set the project's webhook",
    description:
      'Events run.succeeded, run.failed and run.recovered are POSTed as JSON, signed with X-CohortSync-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. See docs/notifications.md.',
    handler: async ({ params, body }) => {
      await setWebhook(deps, params.projectId, { url: body.url, secret: body.secret }, ctx.webhookPolicy);
    },
  });

  defineRoute(app, {
    method: 'DELETE',
    url: `${base}/webhook`,
    access: 'write',
    tags,
    params: ProjectParams,
    status: 204,
    summary: "Remove the project's webhook and its secret",
    handler: async ({ params }) => {
      await clearWebhook(deps, params.projectId);
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/webhook/deliveries`,
    access: 'read',
    tags,
    params: ProjectParams,
    query: DeliveriesQuery,
    response: listOf(Delivery),
    summary: 'Webhook delivery log, newest first',
    handler: ({ params, query }) =>
      listWebhookDeliveries(deps, params.projectId, { limit: query.limit, cursor: query.cursor ?? null }),
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/webhook/test`,
    access: 'write',
    tags,
    params: ProjectParams,
    response: Delivery,
    summary: 'Send a webhook.test event now (one attempt) and report the delivery',
    handler: async ({ params }) => {
      if (!ctx.webhooks) throw new AppError(422, 'webhooks_disabled', 'webhooks are not enabled on this server');
      return sendTestWebhook(deps, ctx.webhooks, params.projectId);
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/notifications/test-email`,
    access: 'write',
    tags,
    params: ProjectParams,
    body: TestEmail.optional(),
    response: TestEmailResult,
    summary: 'Send a test e-mail',
    description: "To `to`, or to the project's notificationEmails. 422 mail_failed when the SMTP server refused it.",
    handler: ({ params, body }) => sendTestEmail(deps, ctx.mailer, params.projectId, { to: body?.to }),
  });
}
