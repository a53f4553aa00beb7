// What leaves the API for each entity (api.md shapes). Built field by field from the domain objects, so an
// internal field (an encrypted key, a workspace fingerprint) can never slip out by being added upstream.
import { REDACTED, SECRET_FIELDS } from '../../adapters/log/logger.ts';
import { summaryOf } from '../../app/behavioral.ts';
import { attributeView } from '../../app/targets.ts';
import type { Cohort, Project, Run, Sync, Target } from '../../domain/model.ts';
import type { ProfileRecord } from '../../ports/store.ts';

export function projectView(p: Project, ingestKey?: string) {
  return {
    id: p.id,
    name: p.name,
    brazeEnabled: p.brazeEnabled,
    notificationEmails: [...p.notificationEmails],
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    ...(ingestKey !== undefined ? { ingestKey } : {}),
  };
}

export function targetView(t: Target) {
  const attribute = attributeView(t);
  return {
    id: t.id,
    name: t.name,
    endpoint: t.endpoint,
    delivery: t.delivery,
    ...(t.delivery === 'custom_attribute' ? { restApiKeyHint: t.keyHint } : { dataImportKeyHint: t.keyHint }),
    mapping: t.mapping,
    ...(attribute ? { attribute } : {}),
    createdAt: t.createdAt,
  };
}

export function cohortView(c: Cohort) {
  const summary = summaryOf(c);
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    size: c.size,
    ...(c.definition !== null && c.definition !== undefined ? { definition: c.definition } : {}),
    ...(summary ? { summary } : {}),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function memberView(m: ProfileRecord) {
  return {
    ...(m.userId !== null ? { user_id: m.userId } : {}),
    ...(m.deviceIds[0] !== undefined ? { device_id: m.deviceIds[0] } : {}),
    device_ids: m.deviceIds,
    properties: m.properties,
  };
}

export function runView(r: Run, progress: { done: number; total: number }) {
  return {
    id: r.id,
    syncId: r.syncId,
    status: r.status,
    trigger: r.trigger,
    mode: r.mode,
    phase: r.phase,
    queuedAt: r.queuedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    counts: r.counts,
    identifiers: r.identifiers,
    skipReasons: r.skipReasons,
    requests: r.requests,
    retries: r.retries,
    progress,
    reconcile: r.reconcile,
    plannedFrom: r.plannedFrom,
    ...(r.error ? { error: r.error } : {}),
  };
}

export type RunView = ReturnType<typeof runView>;

export function syncView(s: Sync, lastRun: RunView | undefined, filter: string) {
  return {
    id: s.id,
    cohortId: s.cohortId,
    targetId: s.targetId,
    cadence: s.cadence,
    ...(s.cron ? { cron: s.cron } : {}),
    paused: s.paused,
    // Braze knows the cohort by our cohort id (docs/product.md §4), whichever target carries it.
    brazeCohortId: s.cohortId,
    ...(s.attribute
      ? {
          attribute:
            s.attribute.value === null
              ? { name: s.attribute.name }
              : { name: s.attribute.name, value: s.attribute.value },
        }
      : {}),
    brazeFilter: filter,
    ...(lastRun ? { lastRun } : {}),
    ...(s.nextRunAt ? { nextRunAt: s.nextRunAt } : {}),
    createdAt: s.createdAt,
    notifyEmails: [...s.notifyEmails],
  };
}

const secretNames = new Set(SECRET_FIELDS.map((f) => f.toLowerCase()));

/**
 * Request-log entries are redacted by the Braze client before they are stored; this second pass, over any
 * depth, keeps a key out of the API even if an entry was written by an older or buggier version.
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, secretNames.has(k.toLowerCase()) ? REDACTED : redactDeep(v, depth + 1)]),
  );
}

export function requestView(r: { at: string; entry: unknown }) {
  const entry = (typeof r.entry === 'object' && r.entry !== null ? r.entry : {}) as Record<string, unknown>;
  return { ...(redactDeep(entry) as Record<string, unknown>), at: r.at };
}
