// Syncs: create, read, pause/resume/reschedule, delete, run now, preview, and their run history
// (api.md "Syncs and runs", docs/product.md §4).
import type { FastifyInstance } from 'fastify';
import { cursorScope, pageOfList } from '../../../app/cursors.ts';
import { previewSync } from '../../../app/preview.ts';
import { lastRunOf, listSyncRuns, runProgress } from '../../../app/runs.ts';
import { deleteSync, listSyncs, updateSync } from '../../../app/sync-admin.ts';
import { createSync, requireSync, runNow, segmentFilterOf } from '../../../app/syncs.ts';
import type { Run as RunModel, Sync as SyncModel } from '../../../domain/model.ts';
import type { HttpContext } from '../context.ts';
import { defineRoute } from '../route.ts';
import {
  isSet,
  listOf,
  PageQuery,
  Preview,
  ProjectParams,
  Run,
  RunNow,
  RunsQuery,
  Sync,
  SyncCreate,
  SyncDeleteQuery,
  SyncParams,
  SyncPatch,
} from '../schemas.ts';
import { runView, syncView } from '../views.ts';

const base = '/api/v1/projects/:projectId/syncs';

export async function syncRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { deps } = ctx;
  const presentRun = async (run: RunModel) => runView(run, await runProgress(deps, run.id));
  const present = async (sync: SyncModel) => {
    const last = await lastRunOf(deps, sync.projectId, sync.id);
    return syncView(sync, last ? await presentRun(last) : undefined, await segmentFilterOf(deps, sync));
  };

  defineRoute(app, {
    method: 'POST',
    url: base,
    access: 'write',
    tags: ['syncs'],
    status: 201,
    summary:
      'Create a sync of a cohort to a target (omitted targetId: the "Default" target); its first run starts right away',
    params: ProjectParams,
    body: SyncCreate,
    response: Sync,
    handler: async ({ params, body }) =>
      present(
        await createSync(deps, params.projectId, {
          cohortId: body.cohortId,
          cadence: body.cadence,
          ...(body.targetId !== undefined ? { targetId: body.targetId } : {}),
          ...(body.cron !== undefined ? { cron: body.cron } : {}),
          ...(body.notifyEmails !== undefined ? { notifyEmails: body.notifyEmails } : {}),
          ...(body.attribute !== undefined
            ? {
                attribute: {
                  ...(body.attribute.value !== undefined ? { value: body.attribute.value } : {}),
                  ...(body.attribute.name !== undefined ? { name: body.attribute.name } : {}),
                },
              }
            : {}),
        }),
      ),
  });

  defineRoute(app, {
    method: 'GET',
    url: base,
    access: 'read',
    tags: ['syncs'],
    summary: 'List syncs',
    params: ProjectParams,
    query: PageQuery,
    response: listOf(Sync),
    handler: async ({ params, query }) => {
      const page = pageOfList(
        deps,
        cursorScope('syncs', params.projectId),
        await listSyncs(deps, params.projectId),
        query.limit,
        query.cursor,
      );
      return { items: await Promise.all(page.items.map(present)), nextCursor: page.nextCursor };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:syncId`,
    access: 'read',
    tags: ['syncs'],
    summary: 'Get a sync with its latest run',
    params: SyncParams,
    response: Sync,
    handler: async ({ params }) => present(await requireSync(deps, params.projectId, params.syncId)),
  });

  defineRoute(app, {
    method: 'PATCH',
    url: `${base}/:syncId`,
    access: 'write',
    tags: ['syncs'],
    summary: 'Pause, resume (runs right away), change cadence or cron, set notification recipients',
    params: SyncParams,
    body: SyncPatch,
    response: Sync,
    handler: async ({ params, body }) =>
      present(
        await updateSync(deps, params.projectId, params.syncId, {
          ...(body.paused !== undefined ? { paused: body.paused } : {}),
          ...(body.cadence !== undefined ? { cadence: body.cadence } : {}),
          ...(body.cron !== undefined ? { cron: body.cron } : {}),
          ...(body.notifyEmails !== undefined ? { notifyEmails: body.notifyEmails } : {}),
        }),
      ),
  });

  defineRoute(app, {
    method: 'DELETE',
    url: `${base}/:syncId`,
    access: 'write',
    tags: ['syncs'],
    status: 204,
    summary:
      'Delete a sync; removeMembers=true first removes its members from the Braze cohort (what no other sync wants)',
    description:
      'With removeMembers=true the sync is paused and a remove-all run is queued; the sync disappears when that run succeeds.',
    params: SyncParams,
    query: SyncDeleteQuery,
    handler: async ({ params, query }) => {
      await deleteSync(deps, params.projectId, params.syncId, { removeMembers: isSet(query.removeMembers) });
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/:syncId/runs`,
    access: 'write',
    tags: ['syncs'],
    status: 202,
    summary: 'Run now (409 sync_paused when paused); a request while one is queued returns that run',
    description:
      'The run plans from the membership changes since the last delivered state when that is exact; with {"reconcile": true} it re-reads every member (a full reconcile), and a queued run it folds into becomes one.',
    params: SyncParams,
    body: RunNow.optional(),
    response: Run,
    handler: async ({ params, body }) =>
      presentRun(await runNow(deps, params.projectId, params.syncId, body?.reconcile ? { reconcile: true } : {})),
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:syncId/preview`,
    access: 'read',
    tags: ['syncs'],
    summary: 'Dry run: what the next run would add, remove and skip, with samples; sends nothing',
    params: SyncParams,
    response: Preview,
    handler: async ({ params }) => previewSync(deps, params.projectId, params.syncId),
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:syncId/runs`,
    access: 'read',
    tags: ['syncs', 'runs'],
    summary: "The sync's runs, newest first, filtered by status and queue time",
    params: SyncParams,
    query: RunsQuery,
    response: listOf(Run),
    handler: async ({ params, query }) => {
      const page = await listSyncRuns(
        deps,
        params.projectId,
        params.syncId,
        { status: query.status, from: query.from, to: query.to },
        { limit: query.limit, cursor: query.cursor },
      );
      return { items: await Promise.all(page.items.map(presentRun)), nextCursor: page.nextCursor };
    },
  });
}
