// Static cohorts and their membership (docs/product.md §2). Membership changes tell real-time syncs.
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { Cohort, MemberInput } from '../domain/model.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { checkMember } from './member-input.ts';
import { requireProject } from './projects.ts';

export async function createStaticCohort(
  deps: Uses<'newId' | 'clock', 'projects' | 'cohorts'>,
  projectId: string,
  input: { name: string },
): Promise<Cohort> {
  await requireProject(deps, projectId);
  const name = input.name.trim();
  if (!name) throw invalid([{ path: 'name', message: 'a cohort needs a name' }]);
  return deps.store.cohorts.create({
    id: deps.newId('coh'),
    projectId,
    name,
    type: 'static',
    definition: null,
    now: deps.clock.now().toISOString(),
  });
}

export async function requireCohort(
  deps: Uses<never, 'cohorts'>,
  projectId: string,
  cohortId: string,
): Promise<Cohort> {
  const cohort = await deps.store.cohorts.get(projectId, cohortId);
  if (!cohort) throw notFound('cohort', cohortId);
  return cohort;
}

function requireStatic(cohort: Cohort): void {
  if (cohort.type !== 'static')
    throw new AppError(
      422,
      'cohort_not_static',
      `cohort ${cohort.id} is ${cohort.type}: its membership comes from its definition`,
    );
}

/** Changing a static cohort's members: the cohort, its membership, and the clock of the change. */
export type MembershipDeps = Uses<'clock', 'cohorts' | 'membership'>;

/** Hook for real-time syncs: called after membership of a cohort changed. */
export type MembershipChanged = (projectId: string, cohortId: string) => Promise<void>;

export interface MemberChangeOutcome {
  added: number;
  removed: number;
  invalid: { index: number; op: 'add' | 'remove'; reason: string }[];
}

export async function changeMembers(
  deps: MembershipDeps,
  projectId: string,
  cohortId: string,
  input: { add?: readonly unknown[]; remove?: readonly unknown[] },
  onChanged?: MembershipChanged,
): Promise<MemberChangeOutcome> {
  requireStatic(await requireCohort(deps, projectId, cohortId));
  const outcome: MemberChangeOutcome = { added: 0, removed: 0, invalid: [] };
  for (const op of ['add', 'remove'] as const) {
    const valid: MemberInput[] = [];
    (input[op] ?? []).forEach((raw, index) => {
      const check = checkMember(raw);
      if (check.ok) valid.push(check.member);
      else outcome.invalid.push({ index, op, reason: check.reason });
    });
    if (valid.length === 0) continue;
    const r = await deps.store.membership.applyMembers(projectId, cohortId, op, valid, deps.clock.now().toISOString());
    outcome.added += r.added;
    outcome.removed += r.removed;
  }
  if (outcome.added + outcome.removed > 0) await onChanged?.(projectId, cohortId);
  return outcome;
}

export interface ReplaceOutcome {
  size: number;
  accepted: number;
  rejected: { line: number; reason: string }[];
  added: number;
  removed: number;
}

const REJECTIONS_KEPT = 1000;
/** Members per store call: large enough that per-call costs vanish, small enough to stay a few MB. */
const CHUNK = 5_000;

/**
 * Replaces membership from a stream of members. Memory holds one chunk, not the file: members are staged in
 * the store and swapped in at the end, so a failed import changes nothing.
 */
export async function replaceMembers(
  deps: MembershipDeps,
  projectId: string,
  cohortId: string,
  members: AsyncIterable<{ line: number; raw: unknown } | { line: number; error: string }>,
  onChanged?: MembershipChanged,
): Promise<ReplaceOutcome> {
  requireStatic(await requireCohort(deps, projectId, cohortId));
  const { membership } = deps.store;
  const importId = await membership.beginReplace(projectId, cohortId);
  const rejected: { line: number; reason: string }[] = [];
  let rejectedCount = 0;
  let accepted = 0;
  let chunk: MemberInput[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    await membership.appendReplace(importId, projectId, chunk, deps.clock.now().toISOString());
    chunk = [];
  };
  try {
    for await (const item of members) {
      const check = 'error' in item ? { ok: false as const, reason: item.error } : checkMember(item.raw);
      if (!check.ok) {
        rejectedCount += 1;
        if (rejected.length < REJECTIONS_KEPT) rejected.push({ line: item.line, reason: check.reason });
        continue;
      }
      accepted += 1;
      chunk.push(check.member);
      if (chunk.length >= CHUNK) await flush();
    }
    await flush();
    if (accepted === 0 && rejectedCount > 0) {
      // Every row rejected is a bad file, not an empty cohort: replacing with it would drop every member.
      throw invalid(
        rejected.slice(0, 20).map((r) => ({ path: r.line > 0 ? `line ${r.line}` : 'csv', message: r.reason })),
        `every row was rejected (${rejectedCount}); the cohort was not changed`,
      );
    }
  } catch (error) {
    await membership.abortReplace(importId);
    throw error;
  }
  const change = await membership.commitReplace(importId, projectId, cohortId, deps.clock.now().toISOString());
  if (change.added + change.removed > 0) await onChanged?.(projectId, cohortId);
  const size = (await requireCohort(deps, projectId, cohortId)).size;
  if (rejectedCount > rejected.length)
    rejected.push({ line: 0, reason: `${rejectedCount - rejected.length} more rejected lines not listed` });
  return { size, accepted, rejected, ...change };
}

const ID_COLUMNS = new Set(['user_id', 'device_id']);

/**
 * Reads members from CSV: a header row; user_id and device_id columns; every other column a user property.
 * Line numbers are the file's (header = line 1). A malformed row is reported, not fatal.
 */
export async function* membersFromCsv(
  input: Readable | AsyncIterable<Buffer | string>,
  opts: { maxRecordBytes?: number } = {},
): AsyncGenerator<{ line: number; raw: unknown } | { line: number; error: string }> {
  const skipped: { line: number; error: string }[] = [];
  const maxRecordBytes = opts.maxRecordBytes ?? 1024 ** 2;
  const parser = parse({
    // A record past the limit cannot be skipped (the parser would buffer on to find its end), so it ends the
    // upload: on_skip rethrows it as fatal. csv-parse counts characters, so multi-byte text may hold more bytes.
    max_record_size: maxRecordBytes,
    bom: true,
    columns: false,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: false,
    info: true,
    // A malformed row (a stray quote, say) is reported by line and the rest of the file still parses.
    skip_records_with_error: true,
    on_skip: (err) => {
      const e = err as (Error & { lines?: number; code?: string }) | undefined;
      if (e?.code === 'CSV_MAX_RECORD_SIZE')
        throw new AppError(
          413,
          'record_too_large',
          `line ${e.lines ?? 0}: a record is longer than ${maxRecordBytes} characters (CSV_MAX_RECORD_BYTES); nothing was changed`,
        );
      skipped.push({ line: e?.lines ?? 0, error: e?.message ?? 'malformed CSV row' });
    },
  });
  const source = 'pipe' in input && typeof input.pipe === 'function' ? (input as Readable) : null;
  if (source) source.pipe(parser);
  else {
    void (async () => {
      try {
        for await (const chunk of input as AsyncIterable<Buffer | string>) {
          if (parser.destroyed) break; // the parser failed (a record too large): stop reading the input
          if (!parser.write(chunk))
            await new Promise<void>((r) => {
              const done = () => {
                parser.off('drain', done);
                parser.off('close', done);
                r();
              };
              parser.on('drain', done);
              parser.on('close', done);
            });
        }
        if (!parser.destroyed) parser.end();
      } catch (e) {
        parser.destroy(e as Error);
      }
    })();
  }
  let header: string[] | null = null;
  for await (const record of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    yield* skipped.splice(0);
    const line = record.info.lines;
    if (!header) {
      header = record.record.map((h) => h.trim());
      if (!header.includes('user_id') && !header.includes('device_id')) {
        throw invalid([{ path: 'csv', message: 'line 1: the header must name a user_id or a device_id column' }]);
      }
      continue;
    }
    if (record.record.length !== header.length) {
      yield { line, error: `expected ${header.length} columns, found ${record.record.length}` };
      continue;
    }
    const raw: Record<string, unknown> = {};
    const properties: Record<string, string> = {};
    header.forEach((column, i) => {
      const value = record.record[i] ?? '';
      if (ID_COLUMNS.has(column)) raw[column] = value;
      else if (value !== '') properties[column] = value;
    });
    if (Object.keys(properties).length > 0) raw.properties = properties;
    yield { line, raw };
  }
  yield* skipped.splice(0);
  if (!header) throw invalid([{ path: 'csv', message: 'the CSV is empty: it needs a header row' }]);
}
