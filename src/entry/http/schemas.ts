// One zod schema per input and output of the HTTP API (docs/architecture.md, "Validation"). Inputs validate
// requests (route.ts); both become the JSON Schemas of the OpenAPI document. Field names and values are
// api.md's; limits keep every accepted value storable on both engines (no NUL, bounded lengths), so bad
// input is a 400 naming the field and never a store error.
import { z } from 'zod';

const NO_NUL = /^[^\u0000]*$/;

/** Free text: no NUL (PostgreSQL text cannot hold it), at most `max` characters. */
export const text = (max: number) => z.string().max(max).regex(NO_NUL, 'must not contain NUL characters');
/** A display name: trimmed, not empty. */
export const displayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200)
  .regex(NO_NUL, 'must not contain NUL characters');
/** An opaque id in a path or body. */
export const id = z.string().min(1).max(100).regex(NO_NUL, 'must not contain NUL characters');
const email = z.email().max(320);
const emails = z.array(email).max(100);

// ---- shared pieces ---------------------------------------------------------------------------------------

const mappingStep = z.strictObject({
  type: z
    .enum(['user_id', 'device_id', 'user_alias'])
    .describe(
      'user_id → external_id; device_id → device_id (and external_id for identified members); user_alias → alias',
    ),
  aliasLabel: text(255).optional().describe('user_alias only, required there: the alias_label Braze stores'),
  aliasProperty: text(255)
    .optional()
    .describe('user_alias only: the user property whose value is alias_name (default user_id)'),
});

/** api.md Mapping. Fallbacks are one level deep: a nested list would flatten to the same order anyway. */
export const Mapping = z.strictObject({
  ...mappingStep.shape,
  fallbacks: z
    .array(mappingStep)
    .max(5)
    .optional()
    .describe('tried in order when the mapping yields nothing for a member'),
});

const limit = z.coerce.number().int().min(1).max(1000).default(100).describe('page size (1–1000, default 100)');
const cursor = text(2000).optional().describe('nextCursor of the previous page, unchanged');
export const PageQuery = z.object({ limit, cursor });

const flag = z.enum(['true', 'false', '1', '0']).optional();
export const isSet = (v: string | undefined) => v === 'true' || v === '1';

/** A member as the API takes it; each is checked on its own so one bad member does not refuse the others. */
const memberInput = z
  .unknown()
  .describe('Member: {user_id?: string, device_id?: string, properties?: object} (at least one id)');

// ---- params ----------------------------------------------------------------------------------------------

export const ProjectParams = z.object({ projectId: id });
export const TargetParams = z.object({ projectId: id, targetId: id });
export const CohortParams = z.object({ projectId: id, cohortId: id });
export const SyncParams = z.object({ projectId: id, syncId: id });
export const RunParams = z.object({ projectId: id, runId: id });

// ---- request bodies and queries --------------------------------------------------------------------------

export const ProjectCreate = z.strictObject({ name: displayName });
export const ProjectPatch = z.strictObject({ name: displayName.optional(), notificationEmails: emails.optional() });
export const TokenCreate = z.strictObject({
  role: z.enum(['editor', 'viewer']),
  name: text(200).optional().describe('what the token is for, shown in the list'),
  expiresAt: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('ISO-8601; the token stops working then (an expiring creator cannot outlive itself)'),
});
export const TokenParams = z.object({ projectId: id, tokenId: id });

const endpoint = text(500).describe(
  'a Braze REST endpoint, e.g. https://rest.iad-01.braze.com (or one the operator allowed)',
);
const dataImportKey = z
  .string()
  .min(1)
  .max(500)
  .regex(NO_NUL, 'must not contain NUL characters')
  .describe('the Data Import Key from Braze; stored encrypted, never returned');

export const DestinationPut = z.strictObject({
  enabled: z.boolean(),
  endpoint: endpoint.optional(),
  dataImportKey: dataImportKey.optional(),
  mapping: Mapping.optional(),
});
const restApiKey = z
  .string()
  .min(1)
  .max(500)
  .regex(NO_NUL, 'must not contain NUL characters')
  .describe('a Braze REST API key with the users.track permission; stored encrypted, never returned');
const delivery = z
  .enum(['cohort_import', 'custom_attribute'])
  .describe('cohort_import (partner cohort, the default) or custom_attribute (/users/track with a REST API key)');
const attributeName = z.string().min(1).max(255).regex(NO_NUL, 'must not contain NUL characters');
const TargetAttribute = z
  .strictObject({
    name: attributeName
      .optional()
      .describe('array style: the attribute holding one value per sync (default "cohorts")'),
    style: z.enum(['array', 'boolean']).optional().describe('array (default) or boolean (one attribute per sync)'),
  })
  .describe('custom_attribute targets only');
export const TargetCreate = z.strictObject({
  name: displayName,
  endpoint,
  mapping: Mapping,
  delivery: delivery.optional(),
  dataImportKey: dataImportKey.optional().describe('cohort_import targets'),
  restApiKey: restApiKey.optional().describe('custom_attribute targets'),
  attribute: TargetAttribute.optional(),
});
// name, mapping, delivery and attribute are accepted so that changing them is answered with 409 (immutable),
// not "unknown field".
export const TargetPatch = z.strictObject({
  name: displayName.optional(),
  mapping: Mapping.optional(),
  delivery: delivery.optional(),
  attribute: TargetAttribute.optional(),
  endpoint: endpoint.optional(),
  dataImportKey: dataImportKey.optional(),
  restApiKey: restApiKey.optional(),
});
export const TargetDeleteQuery = z.object({
  deleteSyncs: flag.describe('true: delete the syncs that use the target too'),
});

const definition = z
  .record(z.string().max(200), z.unknown())
  .describe(
    'behavioral definition (docs/cohorts.md): {all: [{not?, any: [{event, where?, count?, within?} | {userProperty, op, value?} | {inCohort}]}]}',
  );
export const CohortCreate = z.discriminatedUnion('type', [
  z.strictObject({ name: displayName, type: z.literal('static') }),
  z.strictObject({ name: displayName, type: z.literal('behavioral'), definition }),
]);
export const CohortPatch = z.strictObject({ name: displayName.optional(), definition: definition.optional() });
export const MembersChange = z.strictObject({
  add: z.array(memberInput).max(10_000).optional(),
  remove: z.array(memberInput).max(10_000).optional(),
});
export const MembersReplace = z.strictObject({ members: z.array(memberInput).max(100_000) });
export const CohortEstimate = z.strictObject({ definition });
export const SizeHistoryQuery = z.object({
  from: text(64).optional().describe('ISO-8601; default: 30 days before to'),
  to: text(64).optional().describe('ISO-8601; default: now'),
});

const cadence = z.enum(['one_time', 'hourly', 'daily', 'real_time', 'cron']);
export const SyncCreate = z.strictObject({
  cohortId: id,
  targetId: id.optional().describe('omitted: the target named "Default"'),
  cadence,
  cron: text(200)
    .optional()
    .describe('a cron expression (UTC); given alone with hourly/daily it means the cron cadence'),
  notifyEmails: emails.optional(),
  attribute: z
    .strictObject({
      value: attributeName.optional().describe('array style: the value this sync adds (default from the cohort name)'),
      name: attributeName.optional().describe('boolean style: the attribute this sync sets (default in_<cohort>)'),
    })
    .optional()
    .describe('custom_attribute targets only; fixed at creation'),
});
export const RunNow = z.strictObject({
  reconcile: z
    .boolean()
    .optional()
    .describe(
      'true: a full reconcile, which re-reads every member of the cohort; otherwise the run plans from the membership changes when that is exact',
    ),
});
export const SyncPatch = z.strictObject({
  paused: z.boolean().optional(),
  cadence: cadence.optional(),
  cron: text(200).nullable().optional(),
  notifyEmails: emails.optional(),
});
export const SyncDeleteQuery = z.object({
  removeMembers: flag.describe(
    "true: remove the sync's members from the Braze cohort first (what no other sync wants)",
  ),
});

const runStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export const RunsQuery = z.object({
  limit,
  cursor,
  status: runStatus.optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('runs queued at or after (ISO-8601)'),
  to: z.iso.datetime({ offset: true }).optional().describe('runs queued before (ISO-8601)'),
});
export const RunMembersQuery = z.object({
  limit,
  cursor,
  outcome: z.enum(['acked', 'failed', 'pending', 'skipped']).optional(),
  q: text(200).optional().describe('case-insensitive substring of the identifier, user_id or device_id'),
});
export const ExplainQuery = z
  .object({ user_id: text(1024).optional(), device_id: text(1024).optional() })
  .refine((q) => Boolean(q.user_id || q.device_id), { message: 'give user_id or device_id', path: ['user_id'] });

// ---- responses (documentation: the handlers build them in views.ts) ---------------------------------------

const timestamp = z.string().describe('ISO-8601 UTC');
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export const Project = z.object({
  id: z.string(),
  name: z.string(),
  brazeEnabled: z.boolean(),
  notificationEmails: z.array(z.string()),
  createdAt: timestamp,
  updatedAt: timestamp,
  ingestKey: z.string().optional().describe('admin and editors only'),
});
export const TokenInfo = z.object({
  id: z.string(),
  role: z.enum(['editor', 'viewer']),
  name: z.string().optional(),
  hint: z.string().describe('…last4 of the token'),
  createdAt: z.string(),
  lastUsedAt: z.string().optional(),
  expiresAt: z.string().optional(),
});
export const Token = TokenInfo.extend({ token: z.string().describe('shown once') });
export const Target = z.object({
  id: z.string(),
  name: z.string(),
  endpoint: z.string(),
  delivery,
  dataImportKeyHint: z.string().optional(),
  restApiKeyHint: z.string().optional(),
  mapping: Mapping,
  attribute: z.object({ name: z.string().optional(), style: z.enum(['array', 'boolean']) }).optional(),
  createdAt: timestamp,
});
export const Destination = z.object({ enabled: z.boolean(), targets: z.array(Target) });
export const TestResult = z.object({ ok: z.boolean(), message: z.string() });
export const Cohort = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['static', 'behavioral']),
  size: z.number(),
  definition: z.unknown().optional(),
  summary: z.string().optional().describe('behavioral cohorts: the definition in plain English'),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const Estimate = z.object({
  size: z.number(),
  summary: z.string().describe('the definition in plain English'),
});
export const SizeHistory = z.object({ points: z.array(z.object({ at: timestamp, size: z.number() })) });
export const CohortExplanation = z.object({
  cohortId: z.string(),
  summary: z.string(),
  member: z.boolean().describe('stored membership: what syncs send'),
  matches: z.boolean().describe('whether the definition holds right now'),
  groups: z.array(
    z.object({
      not: z.boolean(),
      holds: z.boolean(),
      conditions: z.array(z.object({ holds: z.boolean(), text: z.string() })),
    }),
  ),
});
export const Member = z.object({
  user_id: z.string().optional(),
  device_id: z.string().optional(),
  device_ids: z.array(z.string()),
  properties: z.record(z.string(), z.unknown()),
});
export const MembersChanged = z.object({
  added: z.number(),
  removed: z.number(),
  invalid: z.array(z.object({ index: z.number(), op: z.enum(['add', 'remove']), reason: z.string() })),
});
export const MembersReplaced = z.object({
  size: z.number(),
  accepted: z.number(),
  rejected: z.array(z.object({ line: z.number(), reason: z.string() })),
  added: z.number(),
  removed: z.number(),
});
export const Run = z.object({
  id: z.string(),
  syncId: z.string(),
  status: runStatus,
  trigger: z.string(),
  mode: z.string(),
  phase: z.string(),
  queuedAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  counts: z
    .object({ added: z.number(), removed: z.number(), skipped: z.number(), failed: z.number() })
    .describe('cohort members (users)'),
  identifiers: z
    .object({ added: z.number(), removed: z.number() })
    .describe('identifiers sent: a member may carry several'),
  skipReasons: z.record(z.string(), z.number()),
  requests: z.number(),
  retries: z.number(),
  progress: z.object({ done: z.number(), total: z.number() }).describe('membership batches done out of planned'),
  reconcile: z.boolean().describe('a full reconcile was asked for (POST …/runs {"reconcile": true})'),
  plannedFrom: z
    .enum(['cohort', 'changes'])
    .nullable()
    .describe('how the run planned: every member re-read (cohort) or the membership changes only; null before'),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export const Sync = z.object({
  id: z.string(),
  cohortId: z.string(),
  targetId: z.string(),
  cadence,
  cron: z.string().optional(),
  paused: z.boolean(),
  brazeCohortId: z.string().describe('the cohort id: what Braze knows the cohort by'),
  attribute: z
    .object({ name: z.string(), value: z.string().optional() })
    .optional()
    .describe('custom_attribute targets: the attribute (and array value) this sync writes, fixed at creation'),
  brazeFilter: z.string().describe('the segment filter to build in Braze, in words'),
  lastRun: Run.optional(),
  nextRunAt: timestamp.optional(),
  createdAt: timestamp,
  notifyEmails: z.array(z.string()),
});
const previewIdentifier = z.object({
  kind: z.enum(['external_id', 'device_id', 'alias']),
  value: z.string(),
  member: z.object({ user_id: z.string().nullable(), device_ids: z.array(z.string()) }).nullable(),
});
export const Preview = z.object({
  syncId: z.string(),
  paused: z.boolean(),
  add: z.object({ count: z.number(), sample: z.array(previewIdentifier) }),
  remove: z.object({ count: z.number(), sample: z.array(previewIdentifier) }),
  skipped: z.object({
    count: z.number(),
    reasons: z.record(z.string(), z.number()),
    sample: z.array(z.object({ member: z.unknown(), reason: z.string() })),
  }),
  batches: z.number(),
  requests: z.number(),
  renames: z.boolean(),
});
export const RunMember = z.object({
  member: z.object({ user_id: z.string().nullable(), device_id: z.string().nullable() }),
  operation: z.enum(['add', 'remove', 'skip']),
  identifier: z.object({ kind: z.string(), value: z.string() }).nullable(),
  outcome: z.enum(['acked', 'failed', 'pending', 'skipped']),
  reason: z.string().nullable(),
});
export const RunRequest = z.object({
  at: timestamp,
  endpoint: z.string(),
  identifiers: z.number(),
  status: z.number().nullable(),
  latencyMs: z.number(),
  attempt: z.number(),
  request: z.unknown(),
  response: z.unknown(),
});
export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
