// Cohorts and their members (api.md "Cohorts", docs/product.md §2). A CSV upload streams from the socket
// through the parser into the store in chunks: the file is never held in memory.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { estimateDefinition, explainBehavioral, sizeHistory } from '../../../app/behavioral.ts';
import { createCohort, deleteCohort, listCohortMembers, listCohorts, updateCohort } from '../../../app/cohort-admin.ts';
import { changeMembers, membersFromCsv, membersFromList, replaceMembers, requireCohort } from '../../../app/cohorts.ts';
import { cursorScope, pageOfList } from '../../../app/cursors.ts';
import { AppError } from '../../../app/errors.ts';
import type { HttpContext } from '../context.ts';
import { defineRoute } from '../route.ts';
import {
  Cohort,
  CohortCreate,
  CohortEstimate,
  CohortExplanation,
  CohortParams,
  CohortPatch,
  Estimate,
  ExplainQuery,
  listOf,
  Member,
  MembersChange,
  MembersChanged,
  MembersReplace,
  MembersReplaced,
  PageQuery,
  ProjectParams,
  SizeHistory,
  SizeHistoryQuery,
} from '../schemas.ts';
import { cohortView, memberView } from '../views.ts';

const base = '/api/v1/projects/:projectId/cohorts';

/** Defaults of CSV_MAX_BYTES and CSV_MAX_RECORD_BYTES (src/entry/config.ts). */
export const DEFAULT_CSV_LIMITS = { maxBytes: 4 * 1024 ** 3, maxRecordBytes: 1024 ** 2 } as const;

/**
 * The request as an async iterable rather than a pipeable stream: iterating rejects when the client goes
 * away mid-upload, so the import is aborted instead of waiting forever for an end that never comes. A body
 * past `maxBytes` ends the upload with a 413, and the import, aborted, changes nothing.
 */
async function* chunksOf(stream: Readable, maxBytes: number): AsyncGenerator<Buffer | string> {
  let bytes = 0;
  // When we stop early (a limit, a bad record) the request must not be destroyed, or its socket would take the
  // error answer with it: the rest of the body is read and dropped instead.
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
      if (bytes > maxBytes)
        throw new AppError(
          413,
          'payload_too_large',
          `the CSV is larger than ${maxBytes} bytes (CSV_MAX_BYTES); nothing was changed`,
        );
      yield chunk as Buffer | string;
    }
  } finally {
    if (!stream.readableEnded && !stream.destroyed) stream.resume();
  }
}

export async function cohortRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { deps } = ctx;
  const csvLimits = ctx.csvLimits ?? DEFAULT_CSV_LIMITS;

  defineRoute(app, {
    method: 'POST',
    url: base,
    access: 'write',
    tags: ['cohorts'],
    status: 201,
    summary: 'Create a cohort: static, or behavioral with a definition (evaluated on save; 400 names every bad node)',
    params: ProjectParams,
    body: CohortCreate,
    response: Cohort,
    handler: async ({ params, body }) => cohortView(await createCohort(deps, params.projectId, body)),
  });

  defineRoute(app, {
    method: 'GET',
    url: base,
    access: 'read',
    tags: ['cohorts'],
    summary: 'List cohorts',
    params: ProjectParams,
    query: PageQuery,
    response: listOf(Cohort),
    handler: async ({ params, query }) => {
      const page = pageOfList(
        deps,
        cursorScope('cohorts', params.projectId),
        await listCohorts(deps, params.projectId),
        query.limit,
        query.cursor,
      );
      return { items: page.items.map(cohortView), nextCursor: page.nextCursor };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:cohortId`,
    access: 'read',
    tags: ['cohorts'],
    summary: 'Get a cohort',
    params: CohortParams,
    response: Cohort,
    handler: async ({ params }) => cohortView(await requireCohort(deps, params.projectId, params.cohortId)),
  });

  defineRoute(app, {
    method: 'PATCH',
    url: `${base}/:cohortId`,
    access: 'write',
    tags: ['cohorts'],
    summary:
      'Rename a cohort (its id, the Braze cohort id, never changes; Braze is renamed on the next run) or change a behavioral definition (re-evaluated at once; syncs follow)',
    params: CohortParams,
    body: CohortPatch,
    response: Cohort,
    handler: async ({ params, body }) =>
      cohortView(
        await updateCohort(
          deps,
          params.projectId,
          params.cohortId,
          {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.definition !== undefined ? { definition: body.definition } : {}),
          },
          ctx.onMembershipChanged,
        ),
      ),
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/estimate`,
    access: 'read',
    tags: ['cohorts'],
    summary: 'Size of a behavioral definition now, without saving it (the rules builder)',
    params: ProjectParams,
    body: CohortEstimate,
    response: Estimate,
    handler: async ({ params, body }) => estimateDefinition(deps, params.projectId, body.definition),
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:cohortId/size-history`,
    access: 'read',
    tags: ['cohorts'],
    summary: 'Cohort size over time: a point per evaluation and per minute of real-time changes',
    params: CohortParams,
    query: SizeHistoryQuery,
    response: SizeHistory,
    handler: async ({ params, query }) =>
      sizeHistory(deps, params.projectId, params.cohortId, { from: query.from, to: query.to }),
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:cohortId/explain`,
    access: 'read',
    tags: ['cohorts'],
    summary: "For one user, which conditions of a behavioral cohort's definition they meet and which they don't",
    description: 'Give user_id or device_id (400 when neither is given).',
    params: CohortParams,
    query: ExplainQuery,
    response: CohortExplanation,
    handler: async ({ params, query }) =>
      explainBehavioral(deps, params.projectId, params.cohortId, {
        ...(query.user_id ? { userId: query.user_id } : {}),
        ...(query.device_id ? { deviceId: query.device_id } : {}),
      }),
  });

  defineRoute(app, {
    method: 'DELETE',
    url: `${base}/:cohortId`,
    access: 'write',
    tags: ['cohorts'],
    status: 204,
    summary: 'Delete a cohort (409 cohort_in_use while syncs use it)',
    params: CohortParams,
    handler: async ({ params }) => {
      await deleteCohort(deps, params.projectId, params.cohortId);
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: `${base}/:cohortId/members`,
    access: 'write',
    tags: ['cohorts'],
    summary: 'Add and remove members of a static cohort; invalid members are listed, the others applied',
    params: CohortParams,
    body: MembersChange,
    response: MembersChanged,
    handler: async ({ params, body }) =>
      changeMembers(
        deps,
        params.projectId,
        params.cohortId,
        { ...(body.add ? { add: body.add } : {}), ...(body.remove ? { remove: body.remove } : {}) },
        ctx.onMembershipChanged,
      ),
  });

  defineRoute(app, {
    method: 'PUT',
    url: `${base}/:cohortId/members`,
    access: 'write',
    tags: ['cohorts'],
    csv: true,
    summary: 'Replace the members of a static cohort from a CSV (streamed) or a JSON list',
    description:
      'text/csv: a header row; user_id and device_id columns, any other column a user property. Bad rows are reported by line (header = line 1) and the good rows kept. The swap is atomic: a failed upload changes nothing.',
    params: CohortParams,
    body: MembersReplace,
    response: MembersReplaced,
    handler: async ({ params, body }) => {
      const source =
        'members' in body
          ? membersFromList(body.members)
          : membersFromCsv(chunksOf(body as Readable, csvLimits.maxBytes), {
              maxRecordBytes: csvLimits.maxRecordBytes,
            });
      return replaceMembers(deps, params.projectId, params.cohortId, source, ctx.onMembershipChanged);
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/:cohortId/members`,
    access: 'read',
    tags: ['cohorts'],
    summary: 'List members, page by page',
    params: CohortParams,
    query: PageQuery,
    response: listOf(Member),
    handler: async ({ params, query }) => {
      const page = await listCohortMembers(deps, params.projectId, params.cohortId, {
        limit: query.limit,
        cursor: query.cursor,
      });
      return { items: page.items.map(memberView), nextCursor: page.nextCursor };
    },
  });
}
