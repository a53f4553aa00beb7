// What a run did, member by member (docs/design.md §8): every identifier of its batches with the batch's
// outcome, then the members it skipped. One reader feeds both the CSV export and the JSON listing; it
// reads the store page by page, so a run of millions streams in constant memory.
import { describeIdentifier, type IdentifierKind, parseIdentifierKey } from '../domain/identifiers.ts';
import type { Run } from '../domain/model.ts';
import { cursorScope, openCursor, openValue, type Paged, sealCursor, sealValue } from './cursors.ts';
import type { Uses } from './deps.ts';
import { invalid } from './errors.ts';
import { requireRun } from './runs.ts';

export type RunMemberOutcome = 'acked' | 'failed' | 'pending' | 'skipped';
export const RUN_MEMBER_OUTCOMES: readonly RunMemberOutcome[] = ['acked', 'failed', 'pending', 'skipped'];

/** Reading what a run did: its planned and acknowledged batches, per-item failures, and sealed cursors. */
export type RunExportDeps = Uses<'secrets', 'runs' | 'planning' | 'itemFailures'>;

export interface RunMemberEntry {
  readonly member: { readonly user_id: string | null; readonly device_id: string | null };
  readonly operation: 'add' | 'remove' | 'skip';
  readonly identifier: { readonly kind: IdentifierKind; readonly value: string } | null;
  readonly outcome: RunMemberOutcome;
  /** Why a batch failed, or why a member was skipped; null otherwise. */
  readonly reason: string | null;
}

/** Where the next entry is: identifier `i` of batch `s`, or the skip after profile `k`. */
type Position = { s: number; i: number } | { k: number };

const BATCHES_PER_READ = 4; // up to 4,000 identifiers
const SKIPS_PER_READ = 1000;

async function* entriesFrom(
  deps: RunExportDeps,
  runId: string,
  start: Position | null,
): AsyncGenerator<{ entry: RunMemberEntry; next: Position }> {
  const { planning } = deps.store;
  if (start === null || 's' in start) {
    let afterSeq = start ? start.s - 1 : 0;
    for (;;) {
      const batches = await planning.runBatches(runId, afterSeq, BATCHES_PER_READ);
      // A delivered batch may still have failed some items (a 2xx with errors[]): those show as failed.
      const itemFailures = await deps.store.itemFailures.forBatches(
        runId,
        batches.filter((b) => b.status === 'acked' && b.error !== null).map((b) => b.seq),
      );
      for (const b of batches) {
        const items = [
          ...b.batch.add.map((x) => ({ x, op: 'add' as const })),
          ...b.batch.remove.map((x) => ({ x, op: 'remove' as const })),
        ];
        const from = start && b.seq === start.s ? start.i : 0;
        const profiles = await planning.profiles(
          items.slice(from).flatMap(({ x }) => (x.profileId === null ? [] : [x.profileId])),
        );
        for (let i = from; i < items.length; i++) {
          const { x, op } = items[i]!;
          const identifier = describeIdentifier(parseIdentifierKey(x.key));
          const profile = x.profileId === null ? undefined : profiles.get(x.profileId);
          const itemFailure = b.status === 'acked' ? itemFailures.get(x.key) : undefined;
          const outcome: RunMemberOutcome =
            b.status === 'acked'
              ? itemFailure !== undefined
                ? 'failed'
                : 'acked'
              : b.status === 'failed'
                ? 'failed'
                : 'pending';
          yield {
            entry: {
              member: {
                user_id: profile?.userId ?? (identifier.kind === 'external_id' ? identifier.value : null),
                device_id: identifier.kind === 'device_id' ? identifier.value : (profile?.deviceIds[0] ?? null),
              },
              operation: op,
              identifier,
              outcome,
              reason: itemFailure ?? (outcome === 'failed' ? (b.error ?? 'the batch failed') : null),
            },
            next: i + 1 < items.length ? { s: b.seq, i: i + 1 } : { s: b.seq + 1, i: 0 },
          };
        }
        afterSeq = b.seq;
      }
      if (batches.length < BATCHES_PER_READ) break;
    }
  }
  let afterProfile = start && 'k' in start ? start.k : 0;
  for (;;) {
    const skips = await planning.runSkips(runId, afterProfile, SKIPS_PER_READ);
    const profiles = await planning.profiles(skips.map((s) => s.profileId));
    for (const s of skips) {
      const p = profiles.get(s.profileId);
      yield {
        entry: {
          member: { user_id: p?.userId ?? null, device_id: p?.deviceIds[0] ?? null },
          operation: 'skip',
          identifier: null,
          outcome: 'skipped',
          reason: s.reason,
        },
        next: { k: s.profileId },
      };
    }
    if (skips.length < SKIPS_PER_READ) return;
    afterProfile = skips[skips.length - 1]!.profileId;
  }
}

export const RUN_MEMBERS_CSV_HEADER = 'user_id,device_id,operation,identifier_kind,identifier_value,outcome,reason';

/** Cells a spreadsheet would run as a formula (or DDE call) when the file is opened (OWASP "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell. A cell that starts like a formula gets a leading apostrophe, which spreadsheets show as
 * text and never evaluate; it is then quoted as any other cell would be (docs/security.md).
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** members.csv of a run, line by line (each ends with \n). The run must already have been checked. */
export async function* runMembersCsv(deps: RunExportDeps, run: Run): AsyncGenerator<string> {
  yield `${RUN_MEMBERS_CSV_HEADER}\n`;
  let lines: string[] = [];
  for await (const { entry: e } of entriesFrom(deps, run.id, null)) {
    lines.push(
      [
        e.member.user_id,
        e.member.device_id,
        e.operation,
        e.identifier?.kind ?? null,
        e.identifier?.value ?? null,
        e.outcome,
        e.reason,
      ]
        .map(csvField)
        .join(','),
    );
    // A few hundred lines per chunk: fewer, larger writes without holding much.
    if (lines.length >= 500) {
      yield `${lines.join('\n')}\n`;
      lines = [];
    }
  }
  if (lines.length > 0) yield `${lines.join('\n')}\n`;
}

export interface RunMembersQuery {
  readonly outcome?: RunMemberOutcome | undefined;
  /** Case-insensitive substring of the identifier value, user_id or device_id. */
  readonly q?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/** At most this many entries are read per page when filters match rarely; the cursor continues after them. */
const MAX_SCANNED = 50_000;

export async function listRunMembers(
  deps: RunExportDeps,
  projectId: string,
  runId: string,
  query: RunMembersQuery,
): Promise<Paged<RunMemberEntry>> {
  const run = await requireRun(deps, projectId, runId);
  const scope = cursorScope('run-members', projectId, run.id);
  const start = openValue<Position>(deps, scope, query.cursor);
  if (start !== null && !validPosition(start))
    throw invalid([{ path: 'cursor', message: 'this cursor is not a run-members cursor' }]);
  const needle = query.q?.toLowerCase();
  const matches = (e: RunMemberEntry) =>
    (!query.outcome || e.outcome === query.outcome) &&
    (!needle ||
      [e.identifier?.value, e.member.user_id, e.member.device_id].some((v) => v?.toLowerCase().includes(needle)));
  const items: RunMemberEntry[] = [];
  let scanned = 0;
  for await (const { entry, next } of entriesFrom(deps, run.id, start)) {
    scanned += 1;
    if (matches(entry)) items.push(entry);
    if (items.length >= query.limit || scanned >= MAX_SCANNED)
      return { items, nextCursor: sealValue(deps, scope, next) };
  }
  return { items, nextCursor: null };
}

function validPosition(p: unknown): p is Position {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return ('s' in o && Number.isInteger(o.s) && Number.isInteger(o.i)) || ('k' in o && Number.isInteger(o.k));
}

export async function listRunRequests(
  deps: RunExportDeps,
  projectId: string,
  runId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Paged<{ at: string; entry: unknown }>> {
  const run = await requireRun(deps, projectId, runId);
  const scope = cursorScope('run-requests', projectId, run.id);
  const result = await deps.store.runs.requests(run.id, page.limit, openCursor(deps, scope, page.cursor));
  return { items: result.items, nextCursor: sealCursor(deps, scope, result.nextCursor) };
}
