// One Braze workspace as seen through a Data Import Key: its users and the partner cohorts written into it.
// A cohort keeps two views of its membership on purpose:
// - `members`: the profiles Braze matched — what the segment "<partner> Cohorts includes X" contains;
// - the raw identifiers received (adds minus removes) — what our client actually sent, matched or not.
// Comparing the two is how tests tell "the client sent the wrong thing" from "Braze ignored it".
import { badRequest, notFound } from './errors.ts';
import { type AliasRef, aliasFromKey, aliasKey, compareAliases, compareStrings } from './identifiers.ts';
import { applyAttributes, type TrackOutcome } from './track-objects.ts';
import { type Profile, type ProfileRecord, type ProfileView, type SeedUser, UserStore } from './user-store.ts';

export interface CohortChange {
  readonly user_ids: readonly string[];
  readonly device_ids: readonly string[];
  readonly aliases: readonly AliasRef[];
  readonly should_remove: boolean;
}

export interface CohortSummary {
  id: string;
  name: string;
  size: number;
  createdAt: string;
}

export interface CohortIdentifiers {
  user_ids: string[];
  device_ids: string[];
  aliases: AliasRef[];
}

interface CohortRecord {
  readonly id: string;
  name: string;
  readonly createdAt: string;
  readonly members: Set<number>;
  readonly userIds: Set<string>;
  readonly deviceIds: Set<string>;
  readonly aliasKeys: Set<string>;
}

/** A workspace as the snapshot file keeps it (snapshot.ts). */
export interface WorkspaceRecord {
  readonly dataImportKey: string;
  readonly nextProfileId: number;
  readonly profiles: readonly ProfileRecord[];
  readonly cohorts: readonly {
    readonly id: string;
    readonly name: string;
    readonly createdAt: string;
    readonly members: readonly number[];
    readonly userIds: readonly string[];
    readonly deviceIds: readonly string[];
    readonly aliasKeys: readonly string[];
  }[];
  readonly trackTotals: { readonly skippedUnknown: number; readonly created: number };
}

export class Workspace {
  private readonly cohorts = new Map<string, CohortRecord>();

  constructor(
    readonly dataImportKey: string,
    readonly users: UserStore = new UserStore(),
  ) {}

  record(): WorkspaceRecord {
    const { nextId, profiles } = this.users.records();
    return {
      dataImportKey: this.dataImportKey,
      nextProfileId: nextId,
      profiles,
      cohorts: [...this.cohorts.values()].map((c) => ({
        id: c.id,
        name: c.name,
        createdAt: c.createdAt,
        members: [...c.members],
        userIds: [...c.userIds],
        deviceIds: [...c.deviceIds],
        aliasKeys: [...c.aliasKeys],
      })),
      trackTotals: { ...this.trackTotals },
    };
  }

  static fromRecord(record: WorkspaceRecord): Workspace {
    const ws = new Workspace(record.dataImportKey, UserStore.fromRecords(record.nextProfileId, record.profiles));
    for (const c of record.cohorts) {
      ws.cohorts.set(c.id, {
        id: c.id,
        name: c.name,
        createdAt: c.createdAt,
        members: new Set(c.members),
        userIds: new Set(c.userIds),
        deviceIds: new Set(c.deviceIds),
        aliasKeys: new Set(c.aliasKeys),
      });
    }
    Object.assign(ws.trackTotals, record.trackTotals);
    return ws;
  }

  get cohortCount(): number {
    return this.cohorts.size;
  }

  /** The name endpoint: creates the cohort, or renames it (keeping its first created_at). */
  nameCohort(cohortId: string, name: string, createdAt: string): 'created' | 'renamed' {
    const existing = this.cohorts.get(cohortId);
    if (existing) {
      existing.name = name;
      return 'renamed';
    }
    this.cohorts.set(cohortId, {
      id: cohortId,
      name,
      createdAt,
      members: new Set(),
      userIds: new Set(),
      deviceIds: new Set(),
      aliasKeys: new Set(),
    });
    return 'created';
  }

  hasCohort(cohortId: string): boolean {
    return this.cohorts.has(cohortId);
  }

  /**
   * The membership endpoint. Blocks apply in order; identifiers matching no profile are dropped silently,
   * exactly as Braze does (it never creates users and reports nothing per identifier).
   */
  applyChanges(cohortId: string, changes: readonly CohortChange[]): void {
    const cohort = this.cohorts.get(cohortId);
    // Braze answers an unknown cohort with a 400; the name call must come first (docs/design.md §5).
    if (!cohort)
      throw badRequest(
        `cohort_id not found: ${JSON.stringify(cohortId)} (create it with the cohorts name endpoint first)`,
      );
    for (const change of changes) {
      const remove = change.should_remove;
      const touch = (raw: Set<string>, key: string, profile: Profile | undefined): void => {
        if (remove) raw.delete(key);
        else raw.add(key);
        if (!profile) return;
        if (remove) cohort.members.delete(profile.id);
        else cohort.members.add(profile.id);
      };
      for (const id of change.user_ids) touch(cohort.userIds, id, this.users.matchExternalId(id));
      for (const id of change.device_ids) touch(cohort.deviceIds, id, this.users.matchDeviceId(id));
      for (const alias of change.aliases) touch(cohort.aliasKeys, aliasKey(alias), this.users.matchAlias(alias));
    }
  }

  /**
   * Seeds users in order. A profile folded into another keeps its cohort memberships (they move to the
   * surviving profile), as an identified user keeps what it did while anonymous.
   */
  seed(users: readonly SeedUser[]): number {
    users.forEach((user, index) => {
      const outcome = this.users.seed(user, `users[${index}]`);
      if (outcome.mergedIds.length === 0) return;
      for (const cohort of this.cohorts.values()) {
        for (const gone of outcome.mergedIds) {
          if (cohort.members.delete(gone)) cohort.members.add(outcome.profileId);
        }
      }
    });
    return this.users.size;
  }

  listCohorts(): CohortSummary[] {
    return [...this.cohorts.values()].map((c) => ({
      id: c.id,
      name: c.name,
      size: c.members.size,
      createdAt: c.createdAt,
    }));
  }

  cohortUsers(cohortId: string): { items: ProfileView[]; size: number } {
    const cohort = this.requireCohort(cohortId);
    const items: ProfileView[] = [];
    for (const id of cohort.members) {
      const profile = this.users.get(id);
      if (profile) items.push(this.users.view(profile));
    }
    items.sort(compareProfileViews);
    return { items, size: items.length };
  }

  /** /users/track: applies the attributes objects, counting what Braze would not say (unknown, created). */
  track(objects: readonly unknown[]): TrackOutcome {
    const outcome = applyAttributes(this.users, objects);
    this.trackTotals.skippedUnknown += outcome.skippedUnknown;
    this.trackTotals.created += outcome.created;
    return outcome;
  }

  readonly trackTotals = { skippedUnknown: 0, created: 0 };

  /** Every profile as a user export shows it, custom attributes included. */
  profiles(): ProfileView[] {
    return [...this.users.all()].map((p) => this.users.view(p)).sort(compareProfileViews);
  }

  /**
   * The segment "custom attribute <name> includes value <value>" (array attributes), or with `equals`
   * "custom attribute <name> is <value>" (booleans and other scalars).
   */
  attributeSegment(
    name: string,
    filter: { includes: string } | { equals: unknown },
  ): { items: ProfileView[]; size: number } {
    const items: ProfileView[] = [];
    for (const p of this.users.all()) {
      const value = p.attributes.get(name);
      const match =
        'includes' in filter ? Array.isArray(value) && value.includes(filter.includes) : value === filter.equals;
      if (match) items.push(this.users.view(p));
    }
    items.sort(compareProfileViews);
    return { items, size: items.length };
  }

  cohortIdentifiers(cohortId: string): CohortIdentifiers {
    const cohort = this.requireCohort(cohortId);
    return {
      user_ids: [...cohort.userIds].sort(compareStrings),
      device_ids: [...cohort.deviceIds].sort(compareStrings),
      aliases: [...cohort.aliasKeys].map(aliasFromKey).sort(compareAliases),
    };
  }

  private requireCohort(cohortId: string): CohortRecord {
    const cohort = this.cohorts.get(cohortId);
    if (!cohort) throw notFound(`cohort not found: ${JSON.stringify(cohortId)}`);
    return cohort;
  }
}

/** Identified profiles first (by external_id), then anonymous ones by their first device id or alias. */
function compareProfileViews(a: ProfileView, b: ProfileView): number {
  const rank = (v: ProfileView): number => (v.external_id === undefined ? 1 : 0);
  const firstAlias = (v: ProfileView): string => (v.aliases[0] ? aliasKey(v.aliases[0]) : '');
  return (
    rank(a) - rank(b) ||
    compareStrings(a.external_id ?? '', b.external_id ?? '') ||
    compareStrings(a.device_ids[0] ?? '', b.device_ids[0] ?? '') ||
    compareStrings(firstAlias(a), firstAlias(b))
  );
}
