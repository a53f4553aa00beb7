// What a sync should have produced, computed from the domain rules, and what it did produce, read from the
// store (acknowledged identifiers) and from the sandbox (identifiers received, requests made).

import type { OpenedStore } from '../../src/adapters/store/index.ts';
import { identifierKey } from '../../src/domain/identifiers.ts';
import { type Mapping, resolveIdentifiers } from '../../src/domain/mapping.ts';
import type { ProfileRecord, Store } from '../../src/ports/store.ts';
import type { RunningSandbox } from '../../src/sandbox/index.ts';

export async function allMembers(store: Store, cohortId: string): Promise<ProfileRecord[]> {
  const out: ProfileRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.membership.listMembers(cohortId, 1000, cursor);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** The union of identifier keys the domain gives the members through each mapping. */
export function desiredKeys(members: readonly ProfileRecord[], mappings: readonly Mapping[]): string[] {
  const keys = new Set<string>();
  for (const m of members) {
    for (const mapping of mappings) {
      const r = resolveIdentifiers(m, mapping);
      if (r.ok) for (const id of r.identifiers) keys.add(identifierKey(id));
    }
  }
  return [...keys].sort();
}

export async function expectedKeys(store: Store, cohortId: string, mappings: readonly Mapping[]): Promise<string[]> {
  return desiredKeys(await allMembers(store, cohortId), mappings);
}

/** Identifiers the store records as acknowledged by Braze for a Braze cohort. */
export async function ackedKeys(store: OpenedStore, brazeCohortId: string): Promise<string[]> {
  const rows = await store.raw.db
    .selectFrom('braze_identifiers')
    .select('ident_key')
    .where('braze_cohort_id', '=', brazeCohortId)
    .execute();
  return rows.map((r) => r.ident_key).sort();
}

/** The identifiers the sandbox received for a cohort (adds minus removes), as identifier keys. */
export function sandboxKeys(sandbox: RunningSandbox, dataImportKey: string, cohortId: string): string[] {
  const ids = sandbox.state.cohortIdentifiers(dataImportKey, cohortId);
  return [
    ...ids.user_ids.map((value) => identifierKey({ kind: 'external_id', value })),
    ...ids.device_ids.map((value) => identifierKey({ kind: 'device_id', value })),
    ...ids.aliases.map((a) => identifierKey({ kind: 'alias', label: a.alias_label, name: a.alias_name })),
  ].sort();
}

export interface SentChange {
  readonly status: number;
  readonly adds: string[];
  readonly removes: string[];
  readonly cohortId: string;
}

interface Block {
  user_ids?: string[];
  device_ids?: string[];
  aliases?: { alias_name: string; alias_label: string }[];
  should_remove?: boolean;
}

function blockKeys(b: Block): string[] {
  return [
    ...(b.user_ids ?? []).map((value) => identifierKey({ kind: 'external_id', value })),
    ...(b.device_ids ?? []).map((value) => identifierKey({ kind: 'device_id', value })),
    ...(b.aliases ?? []).map((a) => identifierKey({ kind: 'alias', label: a.alias_label, name: a.alias_name })),
  ];
}

/** Membership requests in the sandbox log, oldest first, with their identifiers as keys. */
export function membershipRequests(sandbox: RunningSandbox): SentChange[] {
  return sandbox.state
    .requests(1000)
    .filter((r) => r.path.endsWith('/cohorts/users'))
    .map((r) => {
      const body = (r.body ?? {}) as { cohort_id?: string; cohort_changes?: Block[] };
      const blocks = body.cohort_changes ?? [];
      return {
        status: r.status,
        cohortId: body.cohort_id ?? '',
        adds: blocks.filter((b) => !b.should_remove).flatMap(blockKeys),
        removes: blocks.filter((b) => b.should_remove).flatMap(blockKeys),
      };
    });
}

/** Name calls in the sandbox log, oldest first. */
export function nameRequests(sandbox: RunningSandbox): { status: number; name: string; cohortId: string }[] {
  return sandbox.state
    .requests(1000)
    .filter((r) => r.path.endsWith('/cohorts'))
    .map((r) => {
      const body = (r.body ?? {}) as { name?: string; cohort_id?: string };
      return { status: r.status, name: body.name ?? '', cohortId: body.cohort_id ?? '' };
    });
}

export const minus = (a: readonly string[], b: readonly string[]) => {
  const drop = new Set(b);
  return a.filter((x) => !drop.has(x));
};
