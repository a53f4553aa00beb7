// A workspace's user profiles, as Braze matches them (docs/design.md §3):
// - an identified profile has an external_id; it is matched by external_id or by one of its aliases;
// - an anonymous profile has no external_id; it is matched by device_id or alias;
// - a device id of an identified profile matches nothing, even if the profile started anonymous.
// Every identifier belongs to at most one profile, so each has a single index entry.
import { badRequest } from './errors.ts';
import { type AliasRef, aliasFromKey, aliasKey, compareAliases, compareStrings } from './identifiers.ts';

export interface SeedUser {
  readonly external_id?: string;
  readonly device_ids?: readonly string[];
  readonly aliases?: readonly AliasRef[];
}

export interface Profile {
  readonly id: number;
  externalId: string | undefined;
  readonly deviceIds: Set<string>;
  readonly aliasKeys: Set<string>;
  /** Custom attributes written through /users/track. */
  readonly attributes: Map<string, unknown>;
}

/** The shape tests and the admin API see: what a Braze user export would show of the profile. */
export interface ProfileView {
  external_id?: string;
  device_ids: string[];
  aliases: AliasRef[];
  /** Present once /users/track wrote any. */
  custom_attributes?: Record<string, unknown>;
}

export interface SeedOutcome {
  readonly profileId: number;
  /** Profiles folded into `profileId` by this seed; they no longer exist. */
  readonly mergedIds: readonly number[];
}

/** A profile as the snapshot file keeps it (snapshot.ts). */
export interface ProfileRecord {
  readonly id: number;
  readonly externalId?: string;
  readonly deviceIds: readonly string[];
  readonly aliasKeys: readonly string[];
  readonly attributes: readonly (readonly [string, unknown])[];
}

export class UserStore {
  private readonly profiles = new Map<number, Profile>();
  private readonly byExternalId = new Map<string, Profile>();
  private readonly byDeviceId = new Map<string, Profile>();
  private readonly byAlias = new Map<string, Profile>();
  private nextId = 1;

  get size(): number {
    return this.profiles.size;
  }

  get(id: number): Profile | undefined {
    return this.profiles.get(id);
  }

  matchExternalId(externalId: string): Profile | undefined {
    return this.byExternalId.get(externalId);
  }

  /** Only anonymous profiles are reachable by device id (docs/design.md §3). */
  matchDeviceId(deviceId: string): Profile | undefined {
    const profile = this.byDeviceId.get(deviceId);
    return profile && profile.externalId === undefined ? profile : undefined;
  }

  matchAlias(alias: AliasRef): Profile | undefined {
    return this.byAlias.get(aliasKey(alias));
  }

  /** The sandbox's braze_id of a profile is `sandbox-<id>`. */
  byBrazeId(brazeId: string): Profile | undefined {
    const m = /^sandbox-(\d+)$/.exec(brazeId);
    return m ? this.profiles.get(Number(m[1])) : undefined;
  }

  profileOf(id: number): Profile | undefined {
    return this.profiles.get(id);
  }

  all(): IterableIterator<Profile> {
    return this.profiles.values();
  }

  /**
   * Adds or updates one user. Every existing profile that shares an identifier with `user` is folded into
   * one profile — this is how an anonymous user "becomes identified" when seeded again with an external_id.
   * Joining two *different* external ids is refused: it would make the seed data ambiguous.
   * `label` names the user in error messages (e.g. `users[3]`).
   */
  seed(user: SeedUser, label: string): SeedOutcome {
    const matched = new Set<Profile>();
    const conflictsWith = (profile: Profile | undefined): void => {
      if (profile) matched.add(profile);
    };
    if (user.external_id !== undefined) conflictsWith(this.byExternalId.get(user.external_id));
    for (const d of user.device_ids ?? []) conflictsWith(this.byDeviceId.get(d));
    for (const a of user.aliases ?? []) conflictsWith(this.byAlias.get(aliasKey(a)));

    const identified = [...matched].filter((p) => p.externalId !== undefined);
    const externalIds = new Set(identified.map((p) => p.externalId as string));
    if (user.external_id !== undefined) externalIds.add(user.external_id);
    if (externalIds.size > 1) {
      const names = [...externalIds].map((e) => JSON.stringify(e)).join(', ');
      throw badRequest(
        `${label}: its identifiers belong to different identified users (${names}); ` +
          'a device id or alias can belong to only one user',
      );
    }

    const target = identified[0] ?? matched.values().next().value ?? this.create();
    const mergedIds: number[] = [];
    for (const other of matched) {
      if (other === target) continue;
      this.absorb(target, other);
      mergedIds.push(other.id);
    }
    if (user.external_id !== undefined && target.externalId === undefined) {
      target.externalId = user.external_id;
      this.byExternalId.set(user.external_id, target);
    }
    for (const d of user.device_ids ?? []) {
      target.deviceIds.add(d);
      this.byDeviceId.set(d, target);
    }
    for (const a of user.aliases ?? []) {
      const key = aliasKey(a);
      target.aliasKeys.add(key);
      this.byAlias.set(key, target);
    }
    return { profileId: target.id, mergedIds };
  }

  /** Every profile and the next id to hand out, for the snapshot file. */
  records(): { nextId: number; profiles: ProfileRecord[] } {
    const profiles = [...this.profiles.values()].map((p) => ({
      id: p.id,
      ...(p.externalId !== undefined && { externalId: p.externalId }),
      deviceIds: [...p.deviceIds],
      aliasKeys: [...p.aliasKeys],
      attributes: [...p.attributes],
    }));
    return { nextId: this.nextId, profiles };
  }

  /** Rebuilds a store from `records()`, indexes included. */
  static fromRecords(nextId: number, profiles: readonly ProfileRecord[]): UserStore {
    const store = new UserStore();
    for (const r of profiles) {
      const profile: Profile = {
        id: r.id,
        externalId: r.externalId,
        deviceIds: new Set(r.deviceIds),
        aliasKeys: new Set(r.aliasKeys),
        attributes: new Map(r.attributes),
      };
      store.profiles.set(profile.id, profile);
      if (profile.externalId !== undefined) store.byExternalId.set(profile.externalId, profile);
      for (const d of profile.deviceIds) store.byDeviceId.set(d, profile);
      for (const a of profile.aliasKeys) store.byAlias.set(a, profile);
    }
    store.nextId = profiles.reduce((next, p) => Math.max(next, p.id + 1), Math.max(nextId, 1));
    return store;
  }

  view(profile: Profile): ProfileView {
    return {
      ...(profile.externalId !== undefined && { external_id: profile.externalId }),
      device_ids: [...profile.deviceIds].sort(compareStrings),
      aliases: [...profile.aliasKeys].map(aliasFromKey).sort(compareAliases),
      ...(profile.attributes.size > 0 && { custom_attributes: Object.fromEntries(profile.attributes) }),
    };
  }

  private create(): Profile {
    const profile: Profile = {
      id: this.nextId++,
      externalId: undefined,
      deviceIds: new Set(),
      aliasKeys: new Set(),
      attributes: new Map(),
    };
    this.profiles.set(profile.id, profile);
    return profile;
  }

  /** Moves every identifier of `from` onto `into` and forgets `from`. Callers only pass at most one identified profile. */
  private absorb(into: Profile, from: Profile): void {
    if (from.externalId !== undefined) {
      into.externalId = from.externalId;
      this.byExternalId.set(from.externalId, into);
    }
    for (const d of from.deviceIds) {
      into.deviceIds.add(d);
      this.byDeviceId.set(d, into);
    }
    for (const a of from.aliasKeys) {
      into.aliasKeys.add(a);
      this.byAlias.set(a, into);
    }
    for (const [name, value] of from.attributes) if (!into.attributes.has(name)) into.attributes.set(name, value);
    this.profiles.delete(from.id);
  }
}
