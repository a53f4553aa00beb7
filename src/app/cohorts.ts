// Static cohorts and their membership (docs/product.md §2). Membership changes tell real-time syncs.
import { CsvReader, CsvRecordTooLong, type CsvSink } from '../domain/csv.ts';
import type { Cohort, MemberInput } from '../domain/model.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { checkMember, userIdProblem, userOnly } from './member-input.ts';
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
    // Members named by a user id alone are applied as one set; the others member by member.
    const users: string[] = [];
    const valid: MemberInput[] = [];
    (input[op] ?? []).forEach((raw, index) => {
      const user = userOnly(raw);
      const problem = user === undefined ? null : userIdProblem(user);
      if (user !== undefined && problem === null) users.push(user);
      else if (problem !== null) outcome.invalid.push({ index, op, reason: problem });
      else {
        const check = checkMember(raw);
        if (check.ok) valid.push(check.member);
        else outcome.invalid.push({ index, op, reason: check.reason });
      }
    });
    const now = deps.clock.now().toISOString();
    for (const r of [
      users.length > 0 ? await deps.store.membership.applyUsers(projectId, cohortId, op, users, now) : null,
      valid.length > 0 ? await deps.store.membership.applyMembers(projectId, cohortId, op, valid, now) : null,
    ]) {
      outcome.added += r?.added ?? 0;
      outcome.removed += r?.removed ?? 0;
    }
  }
  outcome.invalid.sort((a, b) => (a.op === b.op ? a.index - b.index : a.op === 'add' ? -1 : 1));
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
/** Members per batch read and per store call: large enough that per-call costs vanish, small enough to stay a few MB. */
const BATCH = 20_000;

/** One member read from an upload, by line (CSV: the file's line; JSON: the position in the list). */
export type MemberRow = { line: number; raw: unknown } | { line: number; error: string };

/**
 * Members read in bulk: those named by a user id alone (most rows of an upload) as bare ids with their
 * lines, not yet checked, and every other row as it was read.
 */
export interface MemberBatch {
  readonly userIds: string[];
  readonly userLines: number[];
  readonly rows: MemberRow[];
}

const newBatch = (): MemberBatch => ({ userIds: [], userLines: [], rows: [] });
const batchSize = (b: MemberBatch): number => b.userIds.length + b.rows.length;

/**
 * Replaces membership from a stream of members (rows or batches of them). Memory holds one batch, not the
 * file: members are staged in the store and swapped in at the end, so a failed import changes nothing.
 */
export async function replaceMembers(
  deps: MembershipDeps,
  projectId: string,
  cohortId: string,
  members: AsyncIterable<MemberRow | MemberBatch>,
  onChanged?: MembershipChanged,
): Promise<ReplaceOutcome> {
  requireStatic(await requireCohort(deps, projectId, cohortId));
  const { membership } = deps.store;
  const importId = await membership.beginReplace(projectId, cohortId);
  const rejected: { line: number; reason: string }[] = [];
  let rejectedCount = 0;
  let accepted = 0;
  const reject = (line: number, reason: string) => {
    rejectedCount += 1;
    if (rejected.length < REJECTIONS_KEPT) rejected.push({ line, reason });
  };
  let pending = newBatch();
  let change: { added: number; removed: number };
  const flush = async (batch: MemberBatch) => {
    // Ids are checked in place: the valid ones are moved to the front and the list cut after them.
    const ids = batch.userIds;
    let kept = 0;
    const firstRejected = rejected.length;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const problem = userIdProblem(id);
      if (problem === null) ids[kept++] = id;
      else reject(batch.userLines[i] ?? 0, problem);
    }
    ids.length = kept;
    const others: MemberInput[] = [];
    for (const item of batch.rows) {
      const check = 'error' in item ? { ok: false as const, reason: item.error } : checkMember(item.raw);
      if (check.ok) others.push(check.member);
      else reject(item.line, check.reason);
    }
    // Rejections are listed in line order (ids and other rows were checked as two lists).
    if (rejected.length > firstRejected)
      rejected.splice(firstRejected, Infinity, ...rejected.slice(firstRejected).sort((a, b) => a.line - b.line));
    accepted += kept + others.length;
    if (kept + others.length > 0)
      await membership.appendReplace(
        importId,
        projectId,
        { userIds: ids, members: others },
        deps.clock.now().toISOString(),
      );
  };
  try {
    for await (const item of members) {
      if ('userIds' in item) {
        await flush(item);
        continue;
      }
      const user = 'raw' in item ? userOnly(item.raw) : undefined;
      if (user !== undefined) {
        pending.userIds.push(user);
        pending.userLines.push(item.line);
      } else pending.rows.push(item);
      if (batchSize(pending) >= BATCH) {
        await flush(pending);
        pending = newBatch();
      }
    }
    await flush(pending);
    if (accepted === 0 && rejectedCount > 0) {
      // Every row rejected is a bad file, not an empty cohort: replacing with it would drop every member.
      throw invalid(
        rejected.slice(0, 20).map((r) => ({ path: r.line > 0 ? `line ${r.line}` : 'csv', message: r.reason })),
        `every row was rejected (${rejectedCount}); the cohort was not changed`,
      );
    }
    change = await membership.commitReplace(importId, projectId, cohortId, deps.clock.now().toISOString());
  } catch (error) {
    await membership.abortReplace(importId);
    throw error;
  }
  if (change.added + change.removed > 0) await onChanged?.(projectId, cohortId);
  const size = (await requireCohort(deps, projectId, cohortId)).size;
  if (rejectedCount > rejected.length)
    rejected.push({ line: 0, reason: `${rejectedCount - rejected.length} more rejected lines not listed` });
  return { size, accepted, rejected, ...change };
}

/** A JSON list of members as the importer reads them; `line` is the position in the list, counting from 1. */
export async function* membersFromList(members: readonly unknown[]): AsyncGenerator<MemberBatch> {
  for (let start = 0; start < members.length; start += BATCH) {
    const batch = newBatch();
    for (let i = start; i < Math.min(members.length, start + BATCH); i++) {
      const raw = members[i];
      const user = userOnly(raw);
      if (user !== undefined) {
        batch.userIds.push(user);
        batch.userLines.push(i + 1);
      } else batch.rows.push({ line: i + 1, raw });
    }
    yield batch;
  }
}

const ID_COLUMNS = new Set(['user_id', 'device_id']);

/**
 * Reads members from CSV (src/domain/csv.ts): a header row; user_id and device_id columns; every other column
 * a user property. Line numbers are the file's (header = line 1; a record over several lines is named by its
 * first). A malformed row is reported, not fatal; a record longer than `maxRecordBytes` characters ends the
 * upload with a 413. Yields batches of members, reading the input only as fast as they are taken.
 */
export async function* membersFromCsv(
  input: AsyncIterable<Buffer | string>,
  opts: { maxRecordBytes?: number } = {},
): AsyncGenerator<MemberBatch> {
  const maxRecordBytes = opts.maxRecordBytes ?? 1024 ** 2;
  let header: string[] | null = null;
  let userCol = -1;
  let deviceCol = -1;
  let batch = newBatch();
  const sink: CsvSink = {
    record(fields, line) {
      if (!header) {
        header = fields.map((h) => h.trim());
        userCol = header.indexOf('user_id');
        deviceCol = header.indexOf('device_id');
        if (userCol === -1 && deviceCol === -1)
          throw invalid([{ path: 'csv', message: 'line 1: the header must name a user_id or a device_id column' }]);
        return;
      }
      if (fields.length !== header.length) {
        batch.rows.push({ line, error: `expected ${header.length} columns, found ${fields.length}` });
        return;
      }
      // The common row: a user id and nothing else (no device id, no property values).
      if (userCol !== -1 && fields[userCol] !== '' && (fields.length === 1 || onlyField(fields, userCol))) {
        batch.userIds.push(fields[userCol]!);
        batch.userLines.push(line);
        return;
      }
      const raw: Record<string, unknown> = {};
      const properties: Record<string, string> = {};
      header.forEach((column, i) => {
        const value = fields[i] ?? '';
        if (ID_COLUMNS.has(column)) raw[column] = value;
        else if (value !== '') properties[column] = value;
      });
      if (Object.keys(properties).length > 0) raw.properties = properties;
      batch.rows.push({ line, raw });
    },
    malformed(line, reason) {
      batch.rows.push({ line, error: reason });
    },
  };
  const reader = new CsvReader(sink, maxRecordBytes);
  const decoder = new TextDecoder('utf-8');
  const read = (write: () => void) => {
    try {
      write();
    } catch (e) {
      if (e instanceof CsvRecordTooLong)
        throw new AppError(
          413,
          'record_too_large',
          `line ${e.line}: a record is longer than ${maxRecordBytes} characters (CSV_MAX_RECORD_BYTES); nothing was changed`,
        );
      throw e;
    }
  };
  for await (const chunk of input) {
    read(() => reader.write(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })));
    if (batchSize(batch) >= BATCH) {
      yield batch;
      batch = newBatch();
    }
  }
  read(() => {
    const tail = decoder.decode();
    if (tail) reader.write(tail);
    reader.end();
  });
  if (batchSize(batch) > 0) yield batch;
  if (!header) throw invalid([{ path: 'csv', message: 'the CSV is empty: it needs a header row' }]);
}

/** Whether every field but `keep` is empty. */
function onlyField(fields: readonly string[], keep: number): boolean {
  for (let i = 0; i < fields.length; i++) if (i !== keep && fields[i] !== '') return false;
  return true;
}
