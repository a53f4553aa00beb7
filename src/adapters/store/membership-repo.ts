// Profiles and cohort membership. Identity follows Amplitude: a member named by both ids whose device
// belongs to an anonymous profile identifies that profile; one that belongs to another identified user
// moves to the named user. Every membership or identity change is appended to member_changes.
import { randomUUID } from 'node:crypto';
import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
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

/**
 * Moves a device from one identified profile to another. Its acknowledged identifier (`d:` + device) follows
 * it in every Braze cohort of the project, as a merge's do, and both profiles are logged: a plan from the
 * changes looks identifiers up by profile, and one still filed under the old profile would be removed there
 * although the new one wants it (the planner property test found this with a CSV replace).
 */
async function moveDevice(tx: Tx, projectId: string, deviceId: string, from: number, to: number, now: string) {
  await attachDevice(tx, projectId, deviceId, to);
  await sql`update braze_identifiers set profile_id = ${to}, settled = 0
    where braze_cohort_id in (select b.id from braze_cohorts b where b.project_id = ${projectId})
      and ident_key = ${`d:${deviceId}`} and profile_id = ${from}`.execute(tx);
  await logChange(tx, projectId, null, from, now);
  await logChange(tx, projectId, null, to, now);
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
      await moveDevice(tx, projectId, deviceId!, byDevice.id, profile.id, now);
    }
  } else if (byUser && byDevice) {
    profile = byUser;
    if (byUser.id !== byDevice.id && create) {
      if (byDevice.user_id === null) await mergeInto(tx, projectId, byDevice, byUser, now);
      else await moveDevice(tx, projectId, deviceId!, byDevice.id, byUser.id, now);
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

/** The highest profile id there is (0 for none): with one writer, every profile made after it has a higher one. */
async function maxProfileId(tx: Tx): Promise<number> {
  const r = await sql<{ n: number | null }>`select max(id) as n from profiles`.execute(tx);
  return Number(r.rows[0]?.n ?? 0);
}

/** User ids whose profiles a replace creates and finds per statement (about 100 MB of WAL on SQLite). */
const PROFILE_RANGE = 500_000;

/** Moves the cohort's size by a change: never a recount of a cohort that may hold millions. */
async function recordChange(tx: Tx, cohortId: string, change: MemberChangeResult, now: string) {
  await tx
    .updateTable('cohorts')
    .set((eb) => ({ size: eb('size', '+', change.added - change.removed), updated_at: now }))
    .where('id', '=', cohortId)
    .execute();
  if (change.added + change.removed > 0) await recordChangedSize(tx, cohortId, now);
  return change;
}

/**
 * The scratch tables of one replace (dialect.createScratchTable): the user ids staged as read, the same
 * distinct and in key order, and the profiles of the new membership.
 */
function scratchOf(importId: string) {
  return {
    staged: sql.table(`${importId}_staged`),
    users: sql.table(`${importId}_users`),
    members: sql.table(`${importId}_members`),
  };
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
      return recordChange(
        tx,
        cohortId,
        op === 'add' ? { added: changed, removed: 0 } : { added: 0, removed: changed },
        now,
      );
    });
  }

  async applyUsers(
    projectId: string,
    cohortId: string,
    op: 'add' | 'remove',
    userIds: readonly string[],
    now: string,
  ): Promise<MemberChangeResult> {
    // Distinct (a member counts once) and sorted, so the user index is probed in order.
    const ids = [...new Set(userIds)].sort();
    const users = this.dialect.textRows(ids);
    // Built only on the general path below (the ids become one more JSON parameter).
    const byUser = () =>
      sql`profiles p where p.project_id = ${projectId} and ${this.dialect.inTexts(sql`p.user_id`, ids)}`;
    return this.db.transaction().execute(async (tx) => {
      // With one writer at a time (SQLite, whose transactions begin IMMEDIATE), the profiles this insert makes
      // are exactly those past the highest id before it (ids only grow: autoincrement).
      const before = op === 'add' && this.dialect.singleWriter ? await maxProfileId(tx) : null;
      const created =
        op === 'add'
          ? Number(
              (
                await sql`insert into profiles (project_id, user_id, properties, created_at, updated_at)
                  select ${projectId}, u.value, '{}', ${now}, ${now} from (${users}) u where true
                  on conflict (project_id, user_id) do nothing`.execute(tx)
              ).numAffectedRows ?? 0,
            )
          : 0;
      if (before !== null && created === ids.length) {
        // Every member is a profile made just now, so none was a member: they are added and logged straight
        // from the profiles' new id range (appends), without looking each one up again by user id or
        // returning the added rows (about half of a body's SQL; docs/benchmarks.md "POST …/members").
        const added = await sql`insert into cohort_members (cohort_id, profile_id)
          select ${cohortId}, p.id from profiles p where p.id > ${before} order by p.id`.execute(tx);
        await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
          select ${projectId}, ${cohortId}, p.id, ${now} from profiles p where p.id > ${before} order by p.id`.execute(
          tx,
        );
        const n = Number(added.numAffectedRows ?? 0);
        return recordChange(tx, cohortId, { added: n, removed: 0 }, now);
      }
      // RETURNING names exactly the members added (or removed), whatever the planner knows of the tables.
      const changed = (
        op === 'add'
          ? await sql<{ profile_id: number }>`insert into cohort_members (cohort_id, profile_id)
              select ${cohortId}, p.id from ${byUser()} on conflict do nothing returning profile_id`.execute(tx)
          : await sql<{ profile_id: number }>`delete from cohort_members where cohort_id = ${cohortId}
              and profile_id in (select p.id from ${byUser()}) returning profile_id`.execute(tx)
      ).rows.map((r) => Number(r.profile_id));
      if (changed.length > 0)
        await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
          select ${projectId}, ${cohortId}, x.value, ${now} from (${this.dialect.intRows(changed)}) x`.execute(tx);
      const n = changed.length;
      return recordChange(tx, cohortId, op === 'add' ? { added: n, removed: 0 } : { added: 0, removed: n }, now);
    });
  }

  async beginReplace(): Promise<string> {
    const importId = `imp_${randomUUID().replaceAll('-', '')}`;
    const t = scratchOf(importId);
    const create = sql.raw(this.dialect.createScratchTable);
    await sql`${create} ${t.staged} (user_id ${sql.raw(this.dialect.keyTextColumn)} not null)`.execute(this.db);
    await sql`${create} ${t.members} (profile_id integer primary key)`.execute(this.db);
    return importId;
  }

  async appendReplace(
    importId: string,
    projectId: string,
    batch: { readonly userIds: readonly string[]; readonly members: readonly MemberInput[] },
    now: string,
  ): Promise<void> {
    const t = scratchOf(importId);
    // Members named by a user id alone (most rows) are only appended here, one statement a batch; their
    // profiles are made and found at commit, in key order, as one set.
    if (batch.userIds.length > 0)
      await sql`insert into ${t.staged} (user_id) select u.value from (${this.dialect.textRows(batch.userIds)}) u`.execute(
        this.db,
      );
    if (batch.members.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (const m of batch.members) {
        const profileId = await resolveProfile(tx, projectId, m, now, true);
        if (profileId === undefined) continue;
        await sql`insert into ${t.members} (profile_id) values (${profileId}) on conflict do nothing`.execute(tx);
      }
    });
  }

  async commitReplace(importId: string, projectId: string, cohortId: string, now: string): Promise<MemberChangeResult> {
    const t = scratchOf(importId);
    const { dialect, db } = this;
    // Sorted once, here: the profiles are then created and looked up in user id order, so the user index is
    // written and read page by page rather than at random (docs/embedded-store.md "CSV replace").
    await sql`${sql.raw(dialect.createScratchTable)} ${t.users} (user_id ${sql.raw(dialect.keyTextColumn)} primary key)${sql.raw(dialect.withoutRowid)}`.execute(
      db,
    );
    // In a transaction of its own, which holds the connection: the sorter's settings are the connection's.
    await db.transaction().execute((tx) =>
      dialect.withBulkSort(tx, () =>
        sql`insert into ${t.users} (user_id) select user_id from ${t.staged} where true order by user_id
          on conflict do nothing`.execute(tx),
      ),
    );
    await sql`drop table ${t.staged}`.execute(db);
    // Profiles made now persist whatever happens to the swap, as those of the other members already do. In key
    // ranges, each its own statement: the WAL stays bounded (the checkpointer copies it back in between) and the
    // event loop is not held for the whole file.
    let after: string | null = null;
    for (;;) {
      const from: RawBuilder<unknown> = after === null ? sql`true` : sql`u.user_id > ${after}`;
      const bound: { rows: { user_id: string }[] } = await sql<{
        user_id: string;
      }>`select u.user_id from ${t.users} u where ${from}
        order by u.user_id limit 1 offset ${PROFILE_RANGE - 1}`.execute(db);
      const last: string | null = bound.rows[0]?.user_id ?? null;
      const range = sql`${from} and ${last === null ? sql`true` : sql`u.user_id <= ${last}`}`;
      // Both in one transaction: with one writer at a time (SQLite), the profiles the insert makes are those
      // past the highest id before it. When it made one for every user of the range (a first upload of these
      // users), they are taken from that id range instead of being looked up again through the user index.
      await db.transaction().execute(async (tx) => {
        const before = dialect.singleWriter ? await maxProfileId(tx) : null;
        const made = await sql`insert into profiles (project_id, user_id, properties, created_at, updated_at)
          select ${projectId}, u.user_id, '{}', ${now}, ${now} from ${t.users} u where ${range} order by u.user_id
          on conflict (project_id, user_id) do nothing`.execute(tx);
        // A range before the last holds PROFILE_RANGE users (distinct ids, cut at that offset).
        const users =
          before === null || last !== null
            ? PROFILE_RANGE
            : Number(
                (await sql<{ n: number }>`select count(*) as n from ${t.users} u where ${range}`.execute(tx)).rows[0]
                  ?.n ?? 0,
              );
        if (before !== null && Number(made.numAffectedRows ?? 0) === users)
          await sql`insert into ${t.members} (profile_id)
            select p.id from profiles p where p.id > ${before} order by p.id on conflict do nothing`.execute(tx);
        else
          await sql`insert into ${t.members} (profile_id)
            select p.id from ${t.users} u cross join profiles p
            where ${range} and p.project_id = ${projectId} and p.user_id = u.user_id
            order by p.id on conflict do nothing`.execute(tx);
      });
      if (last === null) break;
      after = last;
    }
    await sql`drop table ${t.users}`.execute(db);
    const change = await db.transaction().execute(async (tx) => {
      const leaving = sql`select m.profile_id from cohort_members m where m.cohort_id = ${cohortId}
        and not exists (select 1 from ${t.members} i where i.profile_id = m.profile_id)`;
      const removed = await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${projectId}, ${cohortId}, x.profile_id, ${now} from (${leaving}) x`.execute(tx);
      await sql`delete from cohort_members where cohort_id = ${cohortId} and profile_id in (${leaving})`.execute(tx);
      // Who joins is found once and kept (in profile order), then logged and added by two plain appends. Those
      // who stay are struck first, unless nobody stays (an empty cohort: a probe per new member saved).
      const stays = await sql`select 1 as x from cohort_members m where m.cohort_id = ${cohortId} limit 1`.execute(tx);
      if (stays.rows.length > 0)
        await sql`delete from ${t.members} where exists (select 1 from cohort_members m
          where m.cohort_id = ${cohortId} and m.profile_id = ${t.members}.profile_id)`.execute(tx);
      const added = await sql`insert into member_changes (project_id, cohort_id, profile_id, at)
        select ${projectId}, ${cohortId}, i.profile_id, ${now} from ${t.members} i order by i.profile_id`.execute(tx);
      await sql`insert into cohort_members (cohort_id, profile_id)
        select ${cohortId}, i.profile_id from ${t.members} i where true order by i.profile_id`.execute(tx);
      const change = { added: Number(added.numAffectedRows ?? 0), removed: Number(removed.numAffectedRows ?? 0) };
      return recordChange(tx, cohortId, change, now);
    });
    await sql`drop table ${t.members}`.execute(db);
    return change;
  }

  async abortReplace(importId: string): Promise<void> {
    const t = scratchOf(importId);
    for (const table of [t.staged, t.users, t.members]) await sql`drop table if exists ${table}`.execute(this.db);
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
