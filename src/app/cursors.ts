// Page cursors handed to clients are sealed: the store's own cursor (or ours) plus a keyed fingerprint over
// the cursor and the list it belongs to (its scope: "members of cohort X", "runs of sync Y"). A cursor we
// did not give out, or one given out for another list, is refused with a clear 400 before it reaches a
// query, so no client can feed a repository a cursor shape it does not expect (a store error would be a
// 500 for bad input: "row value misused" when a runs cursor met the members query).
import type { Uses } from './deps.ts';
import { invalid } from './errors.ts';

/** Sealing and opening cursors needs the keyed fingerprint only. */
export type CursorDeps = Uses<'secrets'>;

const SIG_LENGTH = 24; // hex characters of the fingerprint: 96 bits

/**
 * Names the list a cursor pages through: the kind of list and the id of its owner, e.g.
 * `cursorScope('members', cohortId)`. A cursor only opens on the scope it was sealed for.
 */
export const cursorScope = (list: string, ...ids: readonly string[]): string => [list, ...ids].join('\u001f');

const signature = (deps: CursorDeps, scope: string, raw: string) =>
  deps.secrets.fingerprint('page-cursor', `${scope}\u001e${raw}`).slice(0, SIG_LENGTH);

export function sealCursor(deps: CursorDeps, scope: string, raw: string | null): string | null {
  return raw === null ? null : `${raw}.${signature(deps, scope, raw)}`;
}

/** The raw cursor inside a sealed one; null when none was given. */
export function openCursor(deps: CursorDeps, scope: string, sealed: string | null | undefined): string | null {
  if (sealed === undefined || sealed === null || sealed === '') return null;
  const dot = sealed.lastIndexOf('.');
  const raw = dot > 0 ? sealed.slice(0, dot) : '';
  if (!raw || sealed.slice(dot + 1) !== signature(deps, scope, raw)) {
    throw invalid([
      {
        path: 'cursor',
        message:
          'this cursor was not given out for this list: pass nextCursor from the previous page of the same list unchanged',
      },
    ]);
  }
  return raw;
}

/** Our own cursors (not the store's): base64url JSON, sealed like the others. */
export function sealValue(deps: CursorDeps, scope: string, value: unknown): string {
  return sealCursor(deps, scope, Buffer.from(JSON.stringify(value)).toString('base64url'))!;
}

export function openValue<T>(deps: CursorDeps, scope: string, sealed: string | null | undefined): T | null {
  const raw = openCursor(deps, scope, sealed);
  return raw === null ? null : (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T);
}

export interface Paged<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/**
 * Pages a short list the store returns whole (projects, targets, cohorts, syncs), in its order
 * (created_at, id). The cursor holds the last item's position, so deleting it does not lose the place.
 */
export function pageOfList<T extends { id: string; createdAt: string }>(
  deps: CursorDeps,
  scope: string,
  all: readonly T[],
  limit: number,
  cursor: string | null | undefined,
): Paged<T> {
  const after = openValue<[string, string]>(deps, scope, cursor);
  // Sorted here, not trusted from the store: PostgreSQL collations may order ids unlike JavaScript does.
  const ordered = [...all].sort((a, b) =>
    a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  const rest = after
    ? ordered.filter((x) => x.createdAt > after[0] || (x.createdAt === after[0] && x.id > after[1]))
    : ordered;
  const items = rest.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rest.length > limit && last ? sealValue(deps, scope, [last.createdAt, last.id]) : null,
  };
}
