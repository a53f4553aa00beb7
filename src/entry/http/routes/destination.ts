// The Braze destination of a project and its named targets (api.md, docs/product.md §3). Keys go in, only their
// last four characters come back.
import type { FastifyInstance } from 'fastify';
import { cursorScope, pageOfList } from '../../../app/cursors.ts';
import { brazeDestination, configureBrazeDestination, deleteTarget, listTargets } from '../../../app/destination.ts';
import { createTarget, requireTarget, testTarget, updateTarget } from '../../../app/targets.ts';
import type { HttpContext } from '../context.ts';
import { defineRoute } from '../route.ts';
import {
  Destination,
  DestinationPut,
  isSet,
  listOf,
  PageQuery,
  ProjectParams,
  Target,
  TargetCreate,
  TargetDeleteQuery,
  TargetParams,
  TargetPatch,
  TestResult,
} from '../schemas.ts';
import { targetView } from '../views.ts';

const base = '/api/v1/projects/:projectId/destinations/braze';

export async function destinationRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { deps } = ctx;
  const destinationView = (d: Awaited<ReturnType<typeof brazeDestination>>) => ({
    enabled: d.enabled,
    targets: d.targets.map(targetView),
  });

  defineRoute(app, {
    method: 'GET',
    url: base,
    access: 'read',
    tags: ['destination'],
    summary: 'Whether the Braze destination is enabled, and its targets',
    params: ProjectParams,
    response: Destination,
    handler: async ({ params }) => destinationView(await brazeDestination(deps, params.projectId)),
  });

  defineRoute(app, {
    method: 'PUT',
    url: base,
    access: 'write',
    tags: ['destination'],
    summary:
      'Enable or disable the Braze destination; with endpoint, dataImportKey and mapping, set the "Default" target',
    description:
      'Single-key form: endpoint+dataImportKey+mapping create the target named "Default", or update its endpoint and key (its mapping cannot change: 409 target_mapping_immutable).',
    params: ProjectParams,
    body: DestinationPut,
    response: Destination,
    handler: async ({ params, body }) =>
      destinationView(
        await configureBrazeDestination(deps, params.projectId, {
          enabled: body.enabled,
          ...(body.endpoint !== undefined ? { endpoint: body.endpoint } : {}),
          ...(body.dataImportKey !== undefined ? { dataImportKey: body.dataImportKey } : {}),
          ...(body.mapping !== undefined ? { mapping: body.mapping } : {}),
        }),
      ),
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/targets`,
    access: 'write',
    tags: ['destination'],
    status: 201,
    summary:
      'Add a named target (409 when the name is taken or is "Default"); delivery custom_attribute takes a restApiKey and refuses device_id mappings (422 mapping_not_supported)',
    params: ProjectParams,
    body: TargetCreate,
    response: Target,
    handler: async ({ params, body }) => targetView(await createTarget(deps, params.projectId, body)),
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/targets`,
    access: 'read',
    tags: ['destination'],
    summary: 'List targets',
    params: ProjectParams,
    query: PageQuery,
    response: listOf(Target),
    handler: async ({ params, query }) => {
      const page = pageOfList(
        deps,
        cursorScope('targets', params.projectId),
        await listTargets(deps, params.projectId),
        query.limit,
        query.cursor,
      );
      return { items: page.items.map(targetView), nextCursor: page.nextCursor };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/targets/:targetId`,
    access: 'read',
    tags: ['destination'],
    summary: 'Get a target',
    params: TargetParams,
    response: Target,
    handler: async ({ params }) => targetView(await requireTarget(deps, params.projectId, params.targetId)),
  });

  defineRoute(app, {
    method: 'PATCH',
    url: `${base}/targets/:targetId`,
    access: 'write',
    tags: ['destination'],
    summary:
      "Change a target's endpoint or key (dataImportKey or restApiKey, by delivery mode); name, mapping, delivery and attribute are immutable: 409",
    params: TargetParams,
    body: TargetPatch,
    response: Target,
    handler: async ({ params, body }) =>
      targetView(
        await updateTarget(deps, params.projectId, params.targetId, {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.mapping !== undefined ? { mapping: body.mapping } : {}),
          ...(body.endpoint !== undefined ? { endpoint: body.endpoint } : {}),
          ...(body.dataImportKey !== undefined ? { dataImportKey: body.dataImportKey } : {}),
          ...(body.restApiKey !== undefined ? { restApiKey: body.restApiKey } : {}),
          ...(body.delivery !== undefined ? { delivery: body.delivery } : {}),
          ...(body.attribute !== undefined ? { attribute: body.attribute } : {}),
        }),
      ),
  });

  defineRoute(app, {
    method: 'DELETE',
    url: `${base}/targets/:targetId`,
    access: 'write',
    tags: ['destination'],
    status: 204,
    summary: 'Delete a target; 409 target_in_use with details.syncs unless deleteSyncs=true',
    params: TargetParams,
    query: TargetDeleteQuery,
    handler: async ({ params, query }) => {
      await deleteTarget(deps, params.projectId, params.targetId, { deleteSyncs: isSet(query.deleteSyncs) });
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/targets/:targetId/test`,
    access: 'write',
    tags: ['destination'],
    summary: "Check the target's key against Braze and say plainly what is wrong",
    params: TargetParams,
    response: TestResult,
    handler: async ({ params }) => testTarget(deps, params.projectId, params.targetId),
  });
}
