// Human output of the resource commands: tables, key/value blocks and error text. Pure functions of API
// JSON, tolerant of fields the server adds or leaves out. `--json` bypasses all of this.
import { ApiError, ClientError } from './api-client.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json | undefined };

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [
    headers.map((h) => h.toUpperCase()),
    ...rows.map((row) => headers.map((_, i) => oneLine(row[i] ?? ''))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `label  value` lines, labels aligned; undefined values are left out. */
export function keyValues(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** `2024-05-01T10:00:00.000Z` → `2024-05-01 10:00:00Z`; empty for null. */
export function when(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(value);
  return m ? `${m[1]} ${m[2]}Z` : value;
}

export function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export function yesNo(value: unknown): string {
  return value === true ? 'yes' : value === false ? 'no' : '';
}

export function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}

export function itemsOf(value: unknown): JsonObject[] {
  const items = asObject(value).items;
  return Array.isArray(items) ? items.map(asObject) : [];
}

/** `user_alias(label=Amplitude, property=email) then device_id`. */
export function mappingText(value: unknown): string {
  const m = asObject(value);
  if (typeof m.type !== 'string') return text(value);
  const extras: string[] = [];
  if (typeof m.aliasLabel === 'string' && m.aliasLabel !== '') extras.push(`label=${m.aliasLabel}`);
  if (typeof m.aliasProperty === 'string' && m.aliasProperty !== '') extras.push(`property=${m.aliasProperty}`);
  const head = extras.length ? `${m.type}(${extras.join(', ')})` : m.type;
  const fallbacks = Array.isArray(m.fallbacks) ? m.fallbacks.map(mappingText) : [];
  return [head, ...fallbacks].join(' then ');
}

/** Indented, YAML-like rendering of any JSON (for `explain` and fields without a dedicated layout). */
export function render(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}(none)`;
    return value
      .map((item) => {
        if (isScalar(item)) return `${pad}- ${text(item)}`;
        const inner = render(item, indent + 2);
        return `${pad}- ${inner.slice(indent + 2)}`;
      })
      .join('\n');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `${pad}(empty)`;
    return entries
      .map(([key, v]) =>
        isScalar(v) || (Array.isArray(v) && v.length === 0)
          ? `${pad}${key}: ${v === null || Array.isArray(v) ? '(none)' : text(v)}`
          : `${pad}${key}:\n${render(v, indent + 2)}`,
      )
      .join('\n');
  }
  return `${pad}${text(value)}`;
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

/** What a failed command prints on stderr: the API's message and code, and per-field details. */
export function formatError(error: unknown): string {
  if (error instanceof ApiError) {
    const lines = [`error: ${error.message} (${error.code}, HTTP ${error.status})`];
    const details = error.details;
    if (Array.isArray(details)) {
      for (const d of details) {
        const o = asObject(d);
        lines.push(
          typeof o.message === 'string'
            ? `  - ${typeof o.path === 'string' && o.path ? `${o.path}: ` : ''}${o.message}`
            : `  - ${text(d)}`,
        );
      }
    } else if (details !== undefined && details !== null) {
      lines.push(render(details, 2));
    }
    return lines.join('\n');
  }
  if (error instanceof ClientError || error instanceof UsageError) return `error: ${error.message}`;
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

/** A mistake in the command line that commander cannot catch (e.g. two options that exclude each other). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// ---- resources ---------------------------------------------------------------------------------------

export function projectsTable(body: unknown): string {
  const items = itemsOf(body);
  if (items.length === 0) return 'No projects.';
  return table(
    ['id', 'name', 'braze', 'created'],
    items.map((p) => [text(p.id), text(p.name), brazeState(p.brazeEnabled), when(p.createdAt)]),
  );
}

function brazeState(value: unknown): string {
  return value === true ? 'enabled' : value === false ? 'disabled' : '';
}

/** A project; the ingest key is shown only when asked for (it lets anyone send events into the project). */
export function projectDetails(body: unknown, opts: { showIngestKey: boolean }): string {
  const p = asObject(body);
  const emails = Array.isArray(p.notificationEmails)
    ? p.notificationEmails.map(text).join(', ') || '(none)'
    : undefined;
  let ingest: string | undefined;
  if (typeof p.ingestKey === 'string')
    ingest = opts.showIngestKey ? p.ingestKey : `${hint(p.ingestKey)} (--show-ingest-key to print it)`;
  return keyValues([
    ['id', text(p.id)],
    ['name', text(p.name)],
    ['braze', p.brazeEnabled === undefined ? undefined : brazeState(p.brazeEnabled)],
    ['notification emails', emails],
    ['ingest key', ingest],
    ['created', when(p.createdAt) || undefined],
    ['updated', when(p.updatedAt) || undefined],
  ]);
}

/** `…abcd`: enough to tell keys apart, never enough to use one. */
export function hint(secret: string): string {
  return `…${secret.slice(-4)}`;
}

export function targetsTable(items: readonly JsonObject[]): string {
  if (items.length === 0) return 'No targets.';
  return table(
    ['id', 'name', 'endpoint', 'delivery', 'key', 'mapping', 'created'],
    items.map((t) => [
      text(t.id),
      text(t.name),
      text(t.endpoint),
      text(t.delivery ?? 'cohort_import'),
      text(t.dataImportKeyHint ?? t.restApiKeyHint),
      mappingText(t.mapping),
      when(t.createdAt),
    ]),
  );
}

export function targetDetails(body: unknown): string {
  const t = asObject(body);
  return keyValues([
    ['id', text(t.id)],
    ['name', text(t.name)],
    ['endpoint', text(t.endpoint)],
    ['delivery', text(t.delivery ?? 'cohort_import')],
    t.restApiKeyHint !== undefined
      ? ['rest api key', text(t.restApiKeyHint)]
      : ['data import key', text(t.dataImportKeyHint)],
    ['mapping', mappingText(t.mapping)],
    [
      'attribute',
      t.attribute === undefined
        ? undefined
        : `${text(asObject(t.attribute).name) || '(per sync)'} (${text(asObject(t.attribute).style)})`,
    ],
    ['created', when(t.createdAt) || undefined],
  ]);
}

export function destinationDetails(body: unknown): string {
  const d = asObject(body);
  const targets = Array.isArray(d.targets) ? d.targets.map(asObject) : [];
  return `Braze destination: ${brazeState(d.enabled) || text(d.enabled)}\n\n${targetsTable(targets)}`;
}

export function cohortsTable(body: unknown): string {
  const items = itemsOf(body);
  if (items.length === 0) return 'No cohorts.';
  return table(
    ['id', 'name', 'type', 'size', 'updated'],
    items.map((c) => [text(c.id), text(c.name), text(c.type), text(c.size), when(c.updatedAt)]),
  );
}

export function cohortDetails(body: unknown): string {
  const c = asObject(body);
  const lines = keyValues([
    ['id', text(c.id)],
    ['name', text(c.name)],
    ['type', text(c.type)],
    ['size', text(c.size)],
    ['created', when(c.createdAt) || undefined],
    ['updated', when(c.updatedAt) || undefined],
  ]);
  return c.definition === undefined || c.definition === null
    ? lines
    : `${lines}\ndefinition:\n${render(c.definition, 2)}`;
}

export function membersTable(body: unknown): string {
  const items = itemsOf(body);
  if (items.length === 0) return 'No members.';
  return table(
    ['user_id', 'device_id', 'properties'],
    items.map((m) => [
      text(m.user_id),
      deviceIds(m),
      m.properties && Object.keys(asObject(m.properties)).length ? JSON.stringify(m.properties) : '',
    ]),
  );
}

function deviceIds(m: JsonObject): string {
  if (Array.isArray(m.device_ids)) return m.device_ids.map(text).join(', ');
  return text(m.device_id);
}

/** `{added, removed, invalid}` of POST …/members. */
export function memberChangeText(body: unknown): string {
  const r = asObject(body);
  const lines = [`added ${text(r.added) || 0}, removed ${text(r.removed) || 0}`];
  for (const i of Array.isArray(r.invalid) ? r.invalid.map(asObject) : []) {
    lines.push(
      `  invalid ${text(i.op) || 'member'} #${typeof i.index === 'number' ? i.index + 1 : '?'}: ${text(i.reason)}`,
    );
  }
  return lines.join('\n');
}

/** `{size, accepted, rejected:[{line, reason}]}` of a CSV import. */
export function importText(file: string, body: unknown): string {
  const r = asObject(body);
  const rejected = Array.isArray(r.rejected) ? r.rejected.map(asObject) : [];
  const listed = rejected.filter((x) => typeof x.line === 'number' && x.line > 0);
  const more = rejected.filter((x) => !(typeof x.line === 'number' && x.line > 0));
  const rejectedCount = `${listed.length}${more.length ? '+' : ''}`;
  const lines = [
    `Imported ${file}: ${text(r.accepted) || 0} accepted, ${rejectedCount} rejected; cohort size is now ${text(r.size)}`,
  ];
  for (const x of listed) lines.push(`  line ${text(x.line)}: ${text(x.reason)}`);
  for (const x of more) lines.push(`  ${text(x.reason)}`);
  return lines.join('\n');
}

export function syncsTable(body: unknown): string {
  const items = itemsOf(body);
  if (items.length === 0) return 'No syncs.';
  return table(
    ['id', 'cohort', 'target', 'cadence', 'paused', 'last run', 'next run'],
    items.map((s) => [
      text(s.id),
      text(s.cohortId),
      text(s.targetId),
      cadenceText(s),
      yesNo(s.paused),
      lastRunText(s.lastRun),
      when(s.nextRunAt),
    ]),
  );
}

function cadenceText(s: JsonObject): string {
  return typeof s.cron === 'string' && s.cron ? `${text(s.cadence)} (${s.cron})` : text(s.cadence);
}

function lastRunText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  const r = asObject(value);
  return [text(r.status), when(r.finishedAt ?? r.startedAt)].filter(Boolean).join(' ');
}

export function syncDetails(body: unknown): string {
  const s = asObject(body);
  const emails = Array.isArray(s.notifyEmails) ? s.notifyEmails.map(text).join(', ') : undefined;
  return keyValues([
    ['id', text(s.id)],
    ['cohort', text(s.cohortId)],
    ['target', text(s.targetId)],
    ['cadence', cadenceText(s)],
    ['paused', yesNo(s.paused)],
    ['braze cohort id', s.brazeCohortId === undefined ? undefined : text(s.brazeCohortId)],
    ['notify', emails || undefined],
    ['last run', lastRunText(s.lastRun) || undefined],
    ['next run', when(s.nextRunAt) || undefined],
    ['created', when(s.createdAt) || undefined],
  ]);
}

export function previewText(body: unknown): string {
  const p = asObject(body);
  const part = (label: string, value: unknown) => {
    const o = asObject(value);
    const sample = Array.isArray(o.sample) ? o.sample.map(identifierText) : [];
    const head = `${label}: ${text(o.count) || 0}`;
    return sample.length ? `${head}\n${sample.map((s) => `  ${s}`).join('\n')}` : head;
  };
  const skipped = asObject(p.skipped);
  const reasons = Object.entries(asObject(skipped.reasons)).map(([reason, n]) => `  ${reason}: ${text(n)}`);
  return [
    part('would add', p.add),
    part('would remove', p.remove),
    [`would skip: ${text(skipped.count) || 0}`, ...reasons].join('\n'),
  ].join('\n');
}

/** An identifier as the API shows it: `external_id:u1`, `alias:label/name`, or whatever came. */
export function identifierText(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = asObject(value);
  if (typeof o.kind === 'string') {
    if (o.kind === 'alias') return `alias:${text(o.label)}/${text(o.name)}`;
    return `${o.kind}:${text(o.value)}`;
  }
  return text(value);
}

export function runsTable(body: unknown): string {
  const items = itemsOf(body);
  if (items.length === 0) return 'No runs.';
  return table(
    ['id', 'status', 'trigger', 'started', 'finished', 'added', 'removed', 'skipped', 'failed'],
    items.map((r) => {
      const c = asObject(r.counts);
      return [
        text(r.id),
        text(r.status),
        text(r.trigger),
        when(r.startedAt),
        when(r.finishedAt),
        text(c.added),
        text(c.removed),
        text(c.skipped),
        text(c.failed),
      ];
    }),
  );
}

export function runDetails(body: unknown): string {
  const r = asObject(body);
  const c = asObject(r.counts);
  const error = asObject(r.error);
  return keyValues([
    ['id', text(r.id)],
    ['sync', text(r.syncId)],
    ['status', text(r.status)],
    ['trigger', text(r.trigger)],
    ['started', when(r.startedAt) || undefined],
    ['finished', when(r.finishedAt) || undefined],
    ['added', `${text(c.added)}${usersNote(r, 'added')}`],
    ['removed', `${text(c.removed)}${usersNote(r, 'removed')}`],
    ['skipped', text(c.skipped)],
    ['failed', `${text(c.failed)}${isPartial(r) ? ' (partial: sent again by the next run)' : ''}`],
    ['requests', r.requests === undefined ? undefined : text(r.requests)],
    ['retries', r.retries === undefined ? undefined : text(r.retries)],
    [
      'error',
      typeof error.message === 'string'
        ? `${error.message}${typeof error.code === 'string' ? ` (${error.code})` : ''}`
        : undefined,
    ],
  ]);
}

/** One line at the end of `syncs run --wait`. */
export function runOutcome(body: unknown): string {
  const r = asObject(body);
  const c = asObject(r.counts);
  const counts = `added ${text(c.added) || 0}${usersNote(r, 'added')}, removed ${text(c.removed) || 0}${usersNote(r, 'removed')}, skipped ${text(c.skipped) || 0}, failed ${text(c.failed) || 0}`;
  const error = asObject(r.error);
  const reason =
    typeof error.message === 'string'
      ? `: ${error.message}${typeof error.code === 'string' ? ` (${error.code})` : ''}`
      : '';
  return `Run ${text(r.id)} ${isPartial(r) ? 'succeeded partially' : text(r.status)}${reason} — ${counts}`;
}

/** " users (3,500 identifiers)" after a count, when the run reports the identifiers sent beside its users. */
function usersNote(r: JsonObject, which: 'added' | 'removed'): string {
  const n = asObject(r.identifiers)[which];
  return typeof n === 'number' ? ` users (${n.toLocaleString('en-US')} identifier${n === 1 ? '' : 's'})` : '';
}

/** Succeeded while some members failed: the UI's "Partial". */
function isPartial(r: JsonObject): boolean {
  const failed = asObject(r.counts).failed;
  return r.status === 'succeeded' && typeof failed === 'number' && failed > 0;
}
