// One run: its summary, its members (CSV download or a filtered JSON listing) and its Braze requests
// (api.md "Syncs and runs", docs/product.md §5).
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { listRunMembers, listRunRequests, runMembersCsv } from '../../../app/run-export.ts';
import { requireRun, runProgress } from '../../../app/runs.ts';
import type { HttpContext } from '../context.ts';
import { defineRoute } from '../route.ts';
import { listOf, PageQuery, Run, RunMember, RunMembersQuery, RunParams, RunRequest } from '../schemas.ts';
import { requestView, runView } from '../views.ts';

const base = '/api/v1/projects/:projectId/runs/:runId';

export async function runRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { deps } = ctx;

  defineRoute(app, {
    method: 'GET',
    url: base,
    access: 'read',
    tags: ['runs'],
    summary: 'Get a run: status, counts, skip reasons, requests, retries, progress, error',
    params: RunParams,
    response: Run,
    handler: async ({ params }) => {
      const run = await requireRun(deps, params.projectId, params.runId);
      return runView(run, await runProgress(deps, run.id));
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/members.csv`,
    access: 'read',
    tags: ['runs'],
    response: 'text/csv',
    summary: 'Every member the run touched, as CSV (streamed)',
    description:
      'Columns: user_id,device_id,operation,identifier_kind,identifier_value,outcome,reason. One row per identifier sent (outcome acked, failed or pending) and per skipped member (outcome skipped).',
    params: RunParams,
    handler: async ({ params, reply }) => {
      // Checked before the first byte: an unknown run is a 404, not an empty CSV.
      const run = await requireRun(deps, params.projectId, params.runId);
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="run-${run.id}-members.csv"`);
      return Readable.from(runMembersCsv(deps, run));
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/members`,
    access: 'read',
    tags: ['runs'],
    summary: "The run's members with operation, identifier and outcome, filtered by outcome and a search string",
    params: RunParams,
    query: RunMembersQuery,
    response: listOf(RunMember),
    handler: async ({ params, query }) =>
      listRunMembers(deps, params.projectId, params.runId, {
        outcome: query.outcome,
        q: query.q,
        limit: query.limit,
        cursor: query.cursor,
      }),
  });

  defineRoute(app, {
    method: 'GET',
    url: `${base}/requests`,
    access: 'read',
    tags: ['runs'],
    summary: 'The Braze requests the run made, with request and response bodies (keys redacted)',
    params: RunParams,
    query: PageQuery,
    response: listOf(RunRequest),
    handler: async ({ params, query }) => {
      const page = await listRunRequests(deps, params.projectId, params.runId, {
        limit: query.limit,
        cursor: query.cursor,
      });
      return { items: page.items.map(requestView), nextCursor: page.nextCursor };
    },
  });
}
