// What the web UI needs beyond api.md's resources (docs/ui.md "API for the UI"): who the caller is, what the
// server offers (REST endpoints, sandbox, mail), runs per day, a preview of a sync before it is created, and,
// in sandbox mode, the sandbox's view of a synced cohort in Braze's terms.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listCohortMembers } from '../../../app/cohort-admin.ts';
import { requireCohort } from '../../../app/cohorts.ts';
import type { AppDeps } from '../../../app/deps.ts';
import { AppError } from '../../../app/errors.ts';
import { previewDraftSync } from '../../../app/preview.ts';
import { runsPerDay } from '../../../app/run-stats.ts';
import { requireSync } from '../../../app/syncs.ts';
import { decryptedKey, requireTarget } from '../../../app/targets.ts';
import { BRAZE_INSTANCES, normaliseEndpoint } from '../../../domain/braze-instances.ts';
import type { Mapping } from '../../../domain/mapping.ts';
import { brazeCohortName, type Target } from '../../../domain/model.ts';
import type { ProfileRecord } from '../../../ports/store.ts';
import type { RunningSandbox } from '../../../sandbox/index.ts';
import { defineRoute } from '../route.ts';
import { Preview, ProjectParams, SyncParams } from '../schemas.ts';

export interface UiSupportContext {
  readonly deps: AppDeps;
  readonly sandbox: RunningSandbox | null;
  readonly partnerSlug: string;
  readonly mail: { readonly delivery: 'smtp' | 'log'; readonly from: string };
}

const Whoami = z.object({
  kind: z.enum(['admin', 'project']),
  projectId: z.string().optional(),
  role: z.enum(['editor', 'viewer']).optional(),
});
const Endpoint = z.object({ name: z.string(), url: z.string(), kind: z.enum(['braze', 'allowed', 'sandbox']) });
const ServerInfo = z.object({
  endpoints: z.array(Endpoint).describe("Braze's instances, then the operator's allowed endpoints and the sandbox"),
  sandbox: z.object({ url: z.string(), partner: z.string() }).nullable(),
  mail: z.object({ delivery: z.enum(['smtp', 'log']), from: z.string() }),
  cohortNamePrefix: z.string(),
});
const DaysQuery = z.object({ days: z.coerce.number().int().min(1).max(90).default(14) });
const RunsPerDay = z.object({
  days: z.array(z.object({ date: z.string(), succeeded: z.number(), failed: z.number(), other: z.number() })),
});
const DraftPreviewBody = z.strictObject({ cohortId: z.string().min(1).max(100), targetId: z.string().min(1).max(100) });
const SandboxMember = z.object({
  user_id: z.string().nullable(),
  device_ids: z.array(z.string()),
  identifier: z.string().nullable().describe('what the sync sends for this member (null: skipped by the mapping)'),
  matched: z.boolean().describe('whether a Braze profile in the segment is this member'),
});
const SandboxView = z.object({
  syncId: z.string(),
  brazeCohortName: z.string(),
  filter: z.string().describe('the segment filter in Braze’s words'),
  workspace: z.boolean().describe('false: the sandbox never created this Data Import Key'),
  segmentSize: z.number(),
  received: z.object({ user_ids: z.number(), device_ids: z.number(), aliases: z.number() }),
  members: z.array(SandboxMember).describe('the first 200 cohort members'),
  cohortSize: z.number(),
});

const SHOWN = 200;

/** The identifier the target's mapping sends for a member, as the sandbox keys it. */
function identifierOf(member: ProfileRecord, mapping: Mapping): string | null {
  if (mapping.type === 'user_id') return member.userId;
  if (mapping.type === 'device_id') return member.userId ?? member.deviceIds[0] ?? null;
  const property = mapping.aliasProperty ?? 'user_id';
  const value = property === 'user_id' ? member.userId : member.properties[property];
  return value === null || value === undefined ? null : String(value);
}

function onSandbox(ctx: UiSupportContext, target: Target): RunningSandbox {
  const sandbox = ctx.sandbox;
  if (!sandbox || normaliseEndpoint(target.endpoint) !== normaliseEndpoint(sandbox.url))
    throw new AppError(422, 'not_on_sandbox', `target ${target.name} does not point at the Braze sandbox`);
  return sandbox;
}

export async function uiSupportRoutes(app: FastifyInstance, ctx: UiSupportContext): Promise<void> {
  const { deps } = ctx;

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/whoami',
    access: 'read',
    tags: ['service'],
    summary: 'The caller: the admin, or a project token with its project and role',
    response: Whoami,
    handler: async ({ principal }) => {
      const p = principal();
      // Field by field: the principal carries more (the token's id, its expiry) than the UI needs to know.
      return p.kind === 'admin' ? { kind: 'admin' } : { kind: 'project', projectId: p.projectId, role: p.role };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/server',
    access: 'read',
    tags: ['service'],
    summary: 'What this server offers: REST endpoints a target may use, the Braze sandbox, how mail is sent',
    response: ServerInfo,
    handler: async () => ({
      endpoints: [
        ...BRAZE_INSTANCES.map((i) => ({ name: i.id, url: i.endpoint, kind: 'braze' as const })),
        ...deps.settings.allowedEndpoints
          .filter((url) => !ctx.sandbox || normaliseEndpoint(url) !== normaliseEndpoint(ctx.sandbox.url))
          .map((url) => ({ name: 'Allowed by the operator', url, kind: 'allowed' as const })),
        ...(ctx.sandbox ? [{ name: 'Braze sandbox', url: ctx.sandbox.url, kind: 'sandbox' as const }] : []),
      ],
      sandbox: ctx.sandbox ? { url: ctx.sandbox.url, partner: ctx.partnerSlug } : null,
      mail: ctx.mail,
      cohortNamePrefix: deps.settings.cohortNamePrefix,
    }),
  });

  defineRoute(app, {
    method: 'POST',
    url: '/api/v1/sandbox/keys',
    access: 'write',
    tags: ['service'],
    status: 201,
    summary: 'Sandbox mode: a new Data Import Key (an empty Braze workspace in the sandbox)',
    response: z.object({ dataImportKey: z.string() }),
    handler: async () => {
      if (!ctx.sandbox) throw new AppError(404, 'sandbox_off', 'this server runs without the Braze sandbox');
      return { dataImportKey: ctx.sandbox.state.createWorkspace() };
    },
  });

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/projects/:projectId/runs-per-day',
    access: 'read',
    tags: ['runs'],
    summary: 'Runs queued per UTC day over the last `days` days (default 14), by status',
    params: ProjectParams,
    query: DaysQuery,
    response: RunsPerDay,
    handler: async ({ params, query }) => ({ days: await runsPerDay(deps, params.projectId, query.days) }),
  });

  defineRoute(app, {
    method: 'POST',
    url: '/api/v1/projects/:projectId/syncs/preview',
    access: 'read',
    tags: ['syncs'],
    summary: 'Dry run of a sync not created yet: what its first run would add, remove and skip; sends nothing',
    params: ProjectParams,
    body: DraftPreviewBody,
    response: Preview,
    handler: async ({ params, body }) => previewDraftSync(deps, params.projectId, body),
  });

  defineRoute(app, {
    method: 'GET',
    url: '/api/v1/projects/:projectId/syncs/:syncId/sandbox',
    access: 'read',
    tags: ['syncs'],
    summary: "Sandbox mode: the sandbox's view of the sync's cohort in Braze's terms, and which members matched",
    params: SyncParams,
    response: SandboxView,
    handler: async ({ params }) => {
      const sync = await requireSync(deps, params.projectId, params.syncId);
      const target = await requireTarget(deps, params.projectId, sync.targetId);
      const sandbox = onSandbox(ctx, target);
      const cohort = await requireCohort(deps, params.projectId, sync.cohortId);
      const name = brazeCohortName(deps.settings.cohortNamePrefix, cohort);
      const key = await decryptedKey(deps, target.id);
      const workspace = sandbox.state.findWorkspace(key) !== undefined;
      const segment = workspace ? sandbox.state.cohortUsers(key, cohort.id) : { items: [], size: 0 };
      const received = workspace
        ? sandbox.state.cohortIdentifiers(key, cohort.id)
        : { user_ids: [], device_ids: [], aliases: [] };
      const inSegment = new Set<string>();
      for (const p of segment.items) {
        if (p.external_id) inSegment.add(p.external_id);
        for (const d of p.device_ids) inSegment.add(d);
        for (const a of p.aliases) inSegment.add(a.alias_name);
      }
      const page = await listCohortMembers(deps, params.projectId, cohort.id, { limit: SHOWN });
      return {
        syncId: sync.id,
        brazeCohortName: name,
        filter: `${ctx.partnerSlug} Cohorts includes ${name}`,
        workspace,
        segmentSize: segment.size,
        received: {
          user_ids: received.user_ids.length,
          device_ids: received.device_ids.length,
          aliases: received.aliases.length,
        },
        members: page.items.map((m) => {
          const identifier = identifierOf(m, target.mapping);
          const ids = [m.userId, ...m.deviceIds, identifier].filter((v): v is string => Boolean(v));
          return {
            user_id: m.userId,
            device_ids: m.deviceIds,
            identifier,
            matched: ids.some((id) => inSegment.has(id)),
          };
        }),
        cohortSize: cohort.size,
      };
    },
  });

  defineRoute(app, {
    method: 'POST',
    url: '/api/v1/projects/:projectId/sandbox/profiles',
    access: 'write',
    tags: ['syncs'],
    summary:
      "Sandbox mode: create Braze profiles for a cohort's members (up to 10,000) in a sandbox target's workspace",
    description:
      'Braze matches only users it already knows, and only when they are sent: create the profiles before the first sync so its members are matched.',
    params: ProjectParams,
    body: DraftPreviewBody,
    response: z.object({
      workspace: z.boolean().describe('false: the sandbox never issued this key, so nothing was created'),
      profiles: z.number().describe("profiles in the target's sandbox workspace"),
    }),
    handler: async ({ params, body }) => {
      const target = await requireTarget(deps, params.projectId, body.targetId);
      const sandbox = onSandbox(ctx, target);
      await requireCohort(deps, params.projectId, body.cohortId);
      const key = await decryptedKey(deps, target.id);
      // A key the sandbox never issued stays unknown, as Braze would refuse it: no workspace is made for it.
      if (!sandbox.state.findWorkspace(key)) return { workspace: false, profiles: 0 };
      let profiles = 0;
      let seen = 0;
      let cursor: string | undefined;
      do {
        const page = await listCohortMembers(deps, params.projectId, body.cohortId, { limit: 1000, cursor });
        seen += page.items.length;
        const users = page.items.flatMap((m) => {
          const alias = target.mapping.type === 'user_alias' ? identifierOf(m, target.mapping) : null;
          if (!m.userId && m.deviceIds.length === 0 && !alias) return [];
          return [
            {
              ...(m.userId ? { external_id: m.userId } : {}),
              device_ids: m.deviceIds,
              ...(alias ? { aliases: [{ alias_label: target.mapping.aliasLabel ?? '', alias_name: alias }] } : {}),
            },
          ];
        });
        profiles = sandbox.state.seedUsers(key, users);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && seen < 10_000);
      return { workspace: true, profiles };
    },
  });
}
