// Projects and their tokens (api.md "Resources", docs/product.md §1).
import type { FastifyInstance } from 'fastify';
import { cursorScope, pageOfList } from '../../../app/cursors.ts';
import { listProjects, updateProject } from '../../../app/project-admin.ts';
import {
  createProject,
  createProjectToken,
  ingestKeyOf,
  listProjectTokens,
  requireProject,
  revokeProjectToken,
  rotateIngestKey,
} from '../../../app/projects.ts';
import type { Project as ProjectModel } from '../../../domain/model.ts';
import { isEditor, type Principal } from '../auth.ts';
import type { HttpContext } from '../context.ts';
import { defineRoute } from '../route.ts';
import {
  listOf,
  PageQuery,
  Project,
  ProjectCreate,
  ProjectParams,
  ProjectPatch,
  Token,
  TokenCreate,
  TokenInfo,
  TokenParams,
} from '../schemas.ts';
import { projectView } from '../views.ts';

export async function projectRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { deps } = ctx;
  // The ingest key is a secret of the project: shown to those who may change the project, not to viewers.
  const view = async (project: ProjectModel, principal: Principal) =>
    projectView(project, isEditor(principal) ? await ingestKeyOf(deps, project.id) : undefined);

  defineRoute(app, {
    method: 'POST',
    url: '/api/v1/projects',
    access: 'admin',
    tags: ['projects'],
    status: 201,
    summary: 'Create a project (admin only); the answer holds its ingest key',
    body: ProjectCreate,
    response: Project,
    handler: async ({ body }) => {
      const { project, ingestKey } = await createProject(deps, ctx.tokens, { name: body.name });
      return projectView(project, ingestKey);
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/projects',
    access: 'read',
    tags: ['projects'],
    summary: 'List the projects this token can see (all for the admin, its own for a project token)',
    query: PageQuery,
    response: listOf(Project),
    handler: async ({ query, principal }) => {
      const who = principal();
      const projects = await listProjects(deps, who.kind === 'admin' ? undefined : [who.projectId]);
      const page = pageOfList(deps, cursorScope('projects'), projects, query.limit, query.cursor);
      return { items: await Promise.all(page.items.map((p) => view(p, who))), nextCursor: page.nextCursor };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/projects/:projectId',
    access: 'read',
    tags: ['projects'],
    summary: 'Get a project (ingestKey included for the admin and editors)',
    params: ProjectParams,
    response: Project,
    handler: async ({ params, principal }) => view(await requireProject(deps, params.projectId), principal()),
  });

  defineRoute(app, {
    method: 'PATCH',
    url: '/api/v1/projects/:projectId',
    access: 'write',
    tags: ['projects'],
    summary: 'Rename a project or set its notification recipients',
    params: ProjectParams,
    body: ProjectPatch,
    response: Project,
    handler: async ({ params, body, principal }) => {
      const project = await updateProject(deps, params.projectId, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.notificationEmails !== undefined ? { notificationEmails: body.notificationEmails } : {}),
      });
      return view(project, principal());
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: '/api/v1/projects/:projectId/ingest-key/rotate',
    access: 'write',
    tags: ['projects'],
    summary: 'Replace the ingest key (the api_key of Amplitude SDKs); the old key stops working at once',
    params: ProjectParams,
    response: Project,
    handler: async ({ params }) => {
      const { project, ingestKey } = await rotateIngestKey(deps, ctx.tokens, params.projectId);
      return projectView(project, ingestKey);
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: '/api/v1/projects/:projectId/tokens',
    access: 'write',
    tags: ['projects'],
    status: 201,
    summary: 'Create a project token (editor or viewer); the token is shown once',
    params: ProjectParams,
    body: TokenCreate,
    response: Token,
    description:
      'Only the admin and editors create tokens. A token created with an expiring token expires no later than it.',
    handler: async ({ params, body, principal }) => {
      const who = principal();
      return createProjectToken(deps, ctx.tokens, params.projectId, body.role, {
        name: body.name,
        expiresAt: body.expiresAt,
        creator: who.kind === 'admin' ? who : { kind: 'project', expiresAt: who.expiresAt },
      });
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/projects/:projectId/tokens',
    access: 'write',
    tags: ['projects'],
    summary: "The project's tokens (hint, role, created, last used, expiry; never the tokens); admin and editors",
    params: ProjectParams,
    response: listOf(TokenInfo),
    handler: async ({ params }) => ({ items: await listProjectTokens(deps, params.projectId), nextCursor: null }),
  });

  defineRoute(app, {
    method: 'DELETE',
    url: '/api/v1/projects/:projectId/tokens/:tokenId',
    access: 'write',
    tags: ['projects'],
    status: 204,
    summary: 'Revoke a project token; it stops working at once',
    params: TokenParams,
    handler: async ({ params }) => {
      await revokeProjectToken(deps, params.projectId, params.tokenId);
    },
  });
}
