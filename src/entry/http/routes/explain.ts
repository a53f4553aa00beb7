// Explain a user (docs/product.md §5): by user_id or device_id, what each synced cohort and Braze make of them.
import type { FastifyInstance } from 'fastify';
import { explainUser } from '../../../app/explain.ts';
import type { HttpContext } from '../context.ts';
import { defineRoute } from '../route.ts';
import { ExplainQuery, ProjectParams } from '../schemas.ts';

export async function explainRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/projects/:projectId/explain',
    access: 'read',
    tags: ['explain'],
    summary:
      'Explain a user: membership, identifiers per sync, what was sent and when, and the Braze rule that may keep them out',
    description: 'Give user_id or device_id (400 when neither is given).',
    params: ProjectParams,
    query: ExplainQuery,
    handler: async ({ params, query }) =>
      explainUser(ctx.deps, params.projectId, {
        ...(query.user_id ? { userId: query.user_id } : {}),
        ...(query.device_id ? { deviceId: query.device_id } : {}),
      }),
  });
}
