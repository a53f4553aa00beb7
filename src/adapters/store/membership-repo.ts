// Profiles and cohort membership. Identity follows Amplitude: a member named by both ids whose device
// belongs to an anonymous profile identifies that profile; one that belongs to another identified user
// moves to the named user. Every membership or identity change is appended to member_changes.
import { randomUUID } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { MemberInput } from '../../domain/model.ts';
import type { MemberChangeResult, MembershipRepo, Page, ProfileRecord } from '../../ports/store.ts';
import type { StoreDialect } from './dialect.ts';
import { decodeCursor, encodeCursor, parseJson, toJson } from './json.ts';
import type { Database } from './schema.ts';
import { recordChangedSize } from './size-history.ts';

type Tx = Transaction<Database> | Kysely<Database>;

interface ProfileRow {
  id: number;
  user_id: string | null;
  properties: string;
}

async function logChange(tx: Tx, projectId: string, cohortId: string | null, profileId: number, now: string) {
  await tx
    .insertInto('member_changes')
    .values({ project_id: projectId, cohort_id: cohortId, profile_id: profileId, at: now })
    .execute();
}

async function profileByUser(tx: Tx, projectId: string, userId: string): Promise<ProfileRow | undefined> {
  return tx
    .selectFrom('profiles')
    .select(['id', 'user_id', 'properties'])
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

async function profileByDevice(tx: Tx, projectId: string, deviceId: string): Promise<ProfileRow | undefined> {
  return tx
    .selectFrom('profile_devices as d')
    .innerJoin('profiles as p', 'p.id', 'd.profile_id')
    .select(['p.id', 'p.user_id', 'p.properties'])
    .where('d.project_id', '=', projectId)
    .where('d.device_id', '=', deviceId)
    .executeTakeFirst();
}

async function createProfile(tx: Tx, projectId: string, userId: string | null, now: string): Promise<ProfileRow> {
  const row = await tx
    .insertInto('profiles')
    .values({ project_id: projectId, user_id: userId, properties: '{}', created_at: now, updated_at: now })
    .returning(['id', 'user_id', 'properties'])
    .executeTakeFirstOrThrow();
  return row;
}

async function attachDevice(tx: Tx, projectId: string, deviceId: string, profileId: number) {
  await tx
    .insertInto('profile_devices')
    .values({ project_id: projectId, device_id: deviceId, profile_id: profileId })
    .onConflict((oc) => oc.columns(['project_id', 'device_id']).doUpdateSet({ profile_id: profileId }))
    .execute();
}

/** Folds an anonymous profile into an identified one: devices, memberships, acknowledged identifiers and events follow. */
async function mergeInto(tx: Tx, projectId: string, from: ProfileRow, into: ProfileRow, now: string) {
  await tx.updateTable('profile_devices').set({ profile_id: into.id }).where('profile_id', '=', from.id).execute();
  const cohorts = await tx.selectFrom('cohort_members').select('cohort_id').where('profile_id', '=', from.id).execute();
  for (const { cohort_id } of cohorts) {
    const inserted = await tx
      .insertInto('cohort_members')
      .values({ cohort_id, profile_id: into.id })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
      await tx
        .updateTable('cohorts')
        .set((eb) => ({ size: eb('size', '-', 1) }))
        .where('id', '=', cohort_id)
        .execute();
    }
    await logChange(tx, projectId, cohort_id, into.id, now);
  }
  await tx.deleteFrom('cohort_members').where('profile_id', '=', from.id).execute();
  // Unsettled again: found under their new profile until the next settle (acked-by-profile.ts).
  await tx
    .updateTable('braze_identifiers')
    .set({ profile_id: into.id, settled: 0 })
    .where('profile_id', '=', from.id)
    .execute();
  // The anonymous history becomes the identified user's (behavioral cohorts count it).
  await tx.updateTable('events').set({ profile_id: into.id }).where('profile_id', '=', from.id).execute();
  const merged = {
    ...parseJson<Record<string, unknown>>(from.properties, {}),
    ...parseJson<Record<string, unknown>>(into.properties, {}),
  };
  await tx
    .updateTable('profiles')
    .set({ properties: toJson(merged), updated_at: now })
    .where('id', '=', into.id)
    .execute();
  await tx.deleteFrom('profiles').where('id', '=', from.id).execute();
  await logChange(tx, projectId, null, from.id, now);
  await logChange(tx, projectId, null, into.id, now);
}

/** Finds or creates the profile a member names. Returns undefined only when `create` is false and none exists. */
export async function resolveProfile(
  tx: Tx,
  projectId: string,
  m: MemberInput,
  now: string,
  create = true,
): Promise<number | undefined> {
  const userId = m.user_id ?? null;
  const deviceId = m.device_id ?? null;
  const byUser = userId !== null ? await profileByUser(tx, projectId, userId) : undefined;
  const byDevice = deviceId !== null ? await profileByDevice(tx, projectId, deviceId) : undefined;
  let profile: ProfileRow | undefined;

  if (!byUser && !byDevice) {
    if (!create) return undefined;
    profile = await createProfile(tx, projectId, userId, now);
    if (deviceId !== null) await attachDevice(tx, projectId, deviceId, profile.id);
  } else if (byUser && !byDevice) {
    profile = byUser;
    if (deviceId !== null && create) {
      await attachDevice(tx, projectId, deviceId, profile.id);
      await logChange(tx, projectId, null, profile.id, now);
    }
  } else if (!byUser && byDevice) {
    if (userId === null) profile = byDevice;
    else if (!create) return undefined;
    else if (byDevice.user_id === null) {
      await tx
        .updateTable('profiles')
        .set({ user_id: userId, updated_at: now })
        .where('id', '=', byDevice.id)
        .execute();
      await logChange(tx, projectId, null, byDevice.id, now);
      profile = { ...byDevice, user_id: userId };
    } else {
      // The device now belongs to another identified user (a shared device): it follows the newest user.
      profile = await createProfile(tx, projectId, userId, now);
      await attachDevice(tx, projectId, deviceId!, profile.id);
      await logChange(tx, projectId, null, byDevice.id, now);
    }
  } else if (byUser && byDevice) {
    profile = byUser;
    if (byUser.id !== byDevice.id && create) {
      if (byDevice.user_id === null) await mergeInto(tx, projectId, byDevice, byUser, now);
      else {
        await attachDevice(tx, projectId, deviceId!, byUser.id);
        await logChange(tx, projectId, null, byDevice.id, now);
        await logChange(tx, projectId, null, byUser.id, now);
      }
    }
  }
  if (!profile) return undefined;
  if (create && m.properties && Object.keys(m.properties).length > 0) {
    const current = await tx
      .selectFrom('profiles')
      .select('properties')
      .where('id', '=', profile.id)
      .executeTakeFirstOrThrow();
    const merged = { ...parseJson<Record<string, unknown>>(current.properties, {}), ...m.properties };
    await tx
      .updateTable('profiles')
      .set({ properties: toJson(merged), updated_at: now })
      .where('id', '=', profile.id)
      .execute();
    await logChange(tx, projectId, null, profile.id, now);
  }
  return profile.id;
}

const hasProperties = (m: MemberInput): boolean => m.properties !== undefined && Object.keys(m.properties).length > 0;

/** Stages members named only by a user id: creates the profiles that are new, then records every profile. */
async function appendUsers(
  tx: Tx,
  dialect: StoreDialect,
  importId: string,
  projectId: string,
  members: readonly MemberInput[],
  now: string,
): Promise<void> {
  const users = dialect.textRows(members.map((m) => m.user_id!));
  // CROSS JOIN keeps the chunk's ids as the outer loop on SQLite (one index probe each); its planner would
  // otherwise walk the project's profiles and scan the chunk for each.
  await sql`insert into profiles (project_id, user_id, properties, created_at, updated_at)
    select ${projectId}, u.value, '{}', ${now}, ${now} from (${users}) u where true
    on conflict (project_id, user_id) do nothing`.execute(tx);
  await sql`insert into member_imports (import_id, profile_id)
    select ${importId}, p.id from (${users}) u cross join profiles p where p.project_id = ${projectId} and p.user_id = u.value
    on conflict (import_id, profile_id) do nothing`.execute(tx);
}

export class KyselyMembershipRepo implements MembershipRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
  ) {}

  async applyMembers(
    projectId: string,
    cohortId: string,
    op: 'add' | 'remove',
    members: readonly MemberInput[],
    now: string,
  ): Promise<MemberChangeResult> {
    return this.db.transaction().execute(async (tx) => {
      let changed = 0;
      for (const m of members) {
        const profileId = await resolveProfile(tx, projectId, m, now, op === 'add');
        if (profileId === undefined) continue;
        if (op === 'add') {
          const r = await tx
            .insertInto('cohort_members')
            .values({ cohort_id: cohortId, profile_id: profileId })
            .onConflict((oc) => oc.doNothing())
            .executeTakeFirst();
          if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) continue;
        } else {
          const r = await tx
            .deleteFrom('cohort_members')
            .where('cohort_id', '=', cohortId)
            .where('profile_id', '=', profileId)
            .executeTakeFirst();
          if (Number(r.numDeletedRows) === 0) continue;
        }
        changed += 1;
        await logChange(tx, projectId, cohortId, profileId, now);
      }
      const delta = op === 'add' ? changed : -changed;
      await tx
        .updateTable('cohorts')
        .set((eb) => ({ size: eb('size', '+', delta), updated_at: now }))
        .where('id', '=', cohortId)
        .execute();
      if (changed > 0) await recordChangedSize(tx, cohortId, now);
      return op === 'add' ? { added: changed, removed: 0 } : { added: 0, removed: changed };
    });
  }

  async beginReplace(): Promise<string> {
    return `imp_${randomUUID()}`;
  }

  async appendReplace(
    importId: string,
    projectId: string,
    members: readonly MemberInput[],
    now: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      // Members named by a user id alone (most CSV rows) resolve in two set statements: their profile is the
      // user's, created if new — exactly what resolveProfile does for them, without three queries a member.
      const byUserOnly = members.filter(
        (m) => m.user_id !== undefined && m.device_id === undefined && !hasProperties(m),
      );
      if (byUserOnly.length > 0) await appendUsers(tx, this.dialect, importId, projectId, byUserOnly, now);
      for (const m of members) {
        if (m.user_id !== undefined && m.device_id === undefined && !hasProperties(m)) continue;
        const profileId = await resolveProfile(tx, projectId, m, now, true);
        if (profileId === undefined) continue;
        await tx
          .insertInto('member_imports')
          .values({ import_id: importId, profile_id: profileId })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
    });
  }

  async commitReplace(importId: string, projectId: string, cohortId: string, now: string): Promise<MemberChangeResult> {
    return this.db.transaction().execute(async (tx) => {
      const leaving = sql`select m.profile_id from cohort_members m where m.cohort_id = ${cohortId}
        and not exists (select 1 from member_imports i where i.import_id = ${importId} and i.profile_id = m.profile_id)`;
      const joining = sql`select i.profile_id from member_imports i where i.import_id = ${importId}
        and not exists (select 1 from cohort_members m where m.cohort_id = ${cohortId} and m.profile_id = i.profile_id)`;
      const removed = await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${projectId}, ${cohortId}, x.profile_id, ${now} from (${leaving}) x`.execute(tx);
      await sql`delete from cohort_members where cohort_id = ${cohortId} and profile_id in (${leaving})`.execute(tx);
      const added = await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${projectId}, ${cohortId}, x.profile_id, ${now} from (${joining}) x`.execute(tx);
      await sql`insert into cohort_members (cohort_id, profile_id) select ${cohortId}, x.profile_id from (${joining}) x where true`.execute(
        tx,
      );
      await tx.deleteFrom('member_imports').where('import_id', '=', importId).execute();
      const change = { added: Number(added.numAffectedRows ?? 0), removed: Number(removed.numAffectedRows ?? 0) };
      // The size follows from the change, as in applyMembers: no recount of a cohort that may hold millions.
      await tx
        .updateTable('cohorts')
        .set((eb) => ({ size: eb('size', '+', change.added - change.removed), updated_at: now }))
        .where('id', '=', cohortId)
        .execute();
      if (change.added + change.removed > 0) await recordChangedSize(tx, cohortId, now);
      return change;
    });
  }

  async abortReplace(importId: string): Promise<void> {
    await this.db.deleteFrom('member_imports').where('import_id', '=', importId).execute();
  }

  async listMembers(cohortId: string, limit: number, cursor: string | null): Promise<Page<ProfileRecord>> {
    const after = decodeCursor<number>(cursor) ?? 0;
    const rows = await this.db
      .selectFrom('cohort_members as m')
      .innerJoin('profiles as p', 'p.id', 'm.profile_id')
      .select(['p.id', 'p.user_id', 'p.properties'])
      .where('m.cohort_id', '=', cohortId)
      .where('m.profile_id', '>', after)
      .orderBy('m.profile_id')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const devices = await devicesOf(
      this.db,
      page.map((r) => r.id),
    );
    const items = page.map((r) => ({
      id: r.id,
      userId: r.user_id,
      deviceIds: devices.get(r.id) ?? [],
      properties: parseJson<Record<string, unknown>>(r.properties, {}),
    }));
    const last = page.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  async findProfile(projectId: string, by: { userId?: string; deviceId?: string }): Promise<ProfileRecord | undefined> {
    const row =
      by.userId !== undefined
        ? await profileByUser(this.db, projectId, by.userId)
        : by.deviceId !== undefined
          ? await profileByDevice(this.db, projectId, by.deviceId)
          : undefined;
    if (!row) return undefined;
    const devices = await devicesOf(this.db, [row.id]);
    return {
      id: row.id,
      userId: row.user_id,
      deviceIds: devices.get(row.id) ?? [],
      properties: parseJson<Record<string, unknown>>(row.properties, {}),
    };
  }

  async isMember(cohortId: string, profileId: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('cohort_members')
      .select('profile_id')
      .where('cohort_id', '=', cohortId)
      .where('profile_id', '=', profileId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async cohortSize(cohortId: string): Promise<number> {
    const row = await this.db
      .selectFrom('cohort_members')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('cohort_id', '=', cohortId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

export async function devicesOf(db: Kysely<Database>, ids: readonly number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('profile_devices')
    .select(['profile_id', 'device_id'])
    .where('profile_id', 'in', ids)
    .orderBy('device_id')
    .execute();
  for (const r of rows) out.set(r.profile_id, [...(out.get(r.profile_id) ?? []), r.device_id]);
  return out;
}
