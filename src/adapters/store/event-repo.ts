// Ingested events on either engine, one transaction per request. Identity follows resolveProfile (the
// same rules as member uploads: an event with both ids links the device to the user, an anonymous profile
// merges into the identified one and its events follow). Known ids are looked up in bulk first so an
// SDK-sized batch of returning users costs a handful of statements, not a few per event.
import { type Kysely, sql, type Transaction } from 'kysely';
import { applyUserProperties } from '../../domain/user-properties.ts';
import type { EventStore, EventToStore, IdentifyUpdate, StoredOutcome } from '../../ports/event-store.ts';
import { boundBatch } from './bound-batch.ts';
import { PREPARED, type StoreDialect } from './dialect.ts';
import { GroupCommit } from './group-commit.ts';
import { parseJson, toJson } from './json.ts';
import { resolveProfile } from './membership-repo.ts';
import type { Database } from './schema.ts';
import { isRetryableConflict, isUniqueViolation, unavailableAs } from './unavailable.ts';

type Tx = Transaction<Database>;

// Rows per multi-row statement: 12 columns × 400 stays far under both engines' bound-parameter limits.
const ROWS_PER_INSERT = 400;
const IDS_PER_LOOKUP = 500;
const ATTEMPTS = 4;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Profiles of the request's ids, found in bulk, then resolved (created, linked, merged) as events need. */
class Identities {
  private readonly byUser = new Map<string, number>();
  private readonly byDevice = new Map<string, number>();
  /** Profiles merged away during this request → the profile they merged into. */
  private readonly mergedInto = new Map<number, number>();
  /** Profiles on either side of a link or merge. */
  readonly touched = new Set<number>();

  constructor(
    private readonly tx: Tx,
    private readonly dialect: StoreDialect,
    private readonly projectId: string,
    private readonly now: string,
  ) {}

  async preload(items: readonly { userId: string | null; deviceId: string | null }[]): Promise<void> {
    const users = [...new Set(items.map((i) => i.userId).filter((u): u is string => u !== null))];
    const devices = [...new Set(items.map((i) => i.deviceId).filter((d): d is string => d !== null))];
    // Each list is one parameter, probed id by id (dialect.probeKeys), so a batch's lookup is two short statements.
    for (const r of await this.probe<{ id: number; user_id: string }>('profiles', 'user_id', users, ['id', 'user_id']))
      this.byUser.set(r.user_id, r.id);
    const byDevice = await this.probe<{ device_id: string; profile_id: number }>(
      'profile_devices',
      'device_id',
      devices,
      ['device_id', 'profile_id'],
    );
    for (const r of byDevice) this.byDevice.set(r.device_id, r.profile_id);
    await this.createFirstSeen(items);
  }

  private async probe<R>(
    table: 'profiles' | 'profile_devices',
    key: string,
    values: readonly string[],
    columns: readonly string[],
  ): Promise<R[]> {
    if (values.length === 0) return [];
    const q = this.dialect.probeKeys({ table, key, projectId: this.projectId, values, columns });
    return (await sql<R>`${sql.raw(PREPARED)}${q}`.execute(this.tx)).rows;
  }

  /**
   * First sight in bulk: a user id nobody knows, whose events in the request name no device or only devices
   * nobody knows and no other id uses in the request, gets what resolveProfile would give it — a new profile
   * with those devices attached — in two statements for the whole request instead of two per user. Anything
   * another request created meanwhile is left to resolve(), which then finds it.
   */
  private async createFirstSeen(items: readonly { userId: string | null; deviceId: string | null }[]) {
    const usersOfDevice = new Map<string, Set<string | null>>();
    for (const { userId, deviceId } of items)
      if (deviceId !== null) {
        const set = usersOfDevice.get(deviceId) ?? new Set<string | null>();
        set.add(userId);
        usersOfDevice.set(deviceId, set);
      }
    const devicesOf = new Map<string, Set<string>>();
    const refused = new Set<string>();
    for (const { userId, deviceId } of items) {
      if (userId === null || this.byUser.has(userId)) continue;
      const devices = devicesOf.get(userId) ?? new Set<string>();
      devicesOf.set(userId, devices);
      if (deviceId === null) continue;
      if (this.byDevice.has(deviceId) || (usersOfDevice.get(deviceId)?.size ?? 0) > 1) refused.add(userId);
      devices.add(deviceId);
    }
    const users = [...devicesOf.keys()].filter((u) => !refused.has(u)).sort();
    if (users.length === 0) return;
    const created = await sql<{ id: number; user_id: string }>`insert into profiles
        (project_id, user_id, properties, created_at, updated_at)
      select ${this.projectId}, x.value, '{}', ${this.now}, ${this.now} from (${this.dialect.textRows(users)}) x
      where true on conflict (project_id, user_id) do nothing returning id, user_id`.execute(this.tx);
    const attach: [string, number][] = [];
    for (const r of created.rows) {
      this.byUser.set(r.user_id, r.id);
      for (const d of devicesOf.get(r.user_id) ?? []) attach.push([d, r.id]);
    }
    if (attach.length === 0) return;
    attach.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const r = this.dialect.rowSource(attach);
    const attached = await sql<{ device_id: string; profile_id: number }>`insert into profile_devices
        (project_id, device_id, profile_id)
      select ${this.projectId}, ${r.value(0)}, cast(${r.value(1)} as integer) from ${r.from}
      where ${r.present} on conflict (project_id, device_id) do nothing
      returning device_id, profile_id`.execute(this.tx);
    for (const a of attached.rows) this.byDevice.set(a.device_id, Number(a.profile_id));
  }

  /** The profile an (user_id, device_id) pair belongs to now, linking or merging as docs/product.md §2 says. */
  async resolve(userId: string | null, deviceId: string | null): Promise<number> {
    const known = this.known(userId, deviceId);
    if (known !== undefined) return known;
    const before = deviceId !== null ? this.byDevice.get(deviceId) : undefined;
    const beforeUser = userId !== null ? this.byUser.get(userId) : undefined;
    const id = await resolveProfile(
      this.tx,
      this.projectId,
      { ...(userId !== null ? { user_id: userId } : {}), ...(deviceId !== null ? { device_id: deviceId } : {}) },
      this.now,
    );
    if (id === undefined) throw new Error('resolveProfile created no profile');
    for (const other of [before, beforeUser])
      if (other !== undefined && other !== id) {
        this.touched.add(other);
        this.touched.add(id);
      }
    if (before !== undefined && before !== id) {
      const still = await this.tx.selectFrom('profiles').select('id').where('id', '=', before).executeTakeFirst();
      if (!still) {
        // Merged away: its other devices now belong to `id` too.
        this.mergedInto.set(before, id);
        for (const [d, p] of this.byDevice) if (p === before) this.byDevice.set(d, id);
      }
    }
    if (userId !== null) this.byUser.set(userId, id);
    if (deviceId !== null) this.byDevice.set(deviceId, id);
    return id;
  }

  private known(userId: string | null, deviceId: string | null): number | undefined {
    if (userId !== null && deviceId === null) return this.byUser.get(userId);
    if (userId === null && deviceId !== null) return this.byDevice.get(deviceId);
    if (userId === null || deviceId === null) return undefined;
    const u = this.byUser.get(userId);
    return u !== undefined && u === this.byDevice.get(deviceId) ? u : undefined;
  }

  /** Both sides of every link or merge, and where each ended up (a merged-away profile no longer exists). */
  linked(): number[] {
    return [...new Set([...this.touched].flatMap((id) => [id, this.final(id)]))];
  }

  /** Where a profile id resolved earlier in the request ended up after later merges. */
  final(id: number): number {
    let at = id;
    for (let next = this.mergedInto.get(at); next !== undefined; next = this.mergedInto.get(at)) at = next;
    return at;
  }
}

/** Applies user-property updates in order, one read and at most one write per profile. */
async function applyUpdates(
  tx: Tx,
  projectId: string,
  updates: readonly { profileId: number; userProperties: Record<string, unknown> }[],
  now: string,
): Promise<Set<number>> {
  const changed = new Set<number>();
  if (updates.length === 0) return changed;
  const ids = [...new Set(updates.map((u) => u.profileId))];
  const current = new Map<number, Record<string, unknown>>();
  for (const part of chunks(ids, IDS_PER_LOOKUP)) {
    const rows = await tx.selectFrom('profiles').select(['id', 'properties']).where('id', 'in', part).execute();
    for (const r of rows) current.set(r.id, parseJson<Record<string, unknown>>(r.properties, {}));
  }
  const next = new Map(current);
  for (const u of updates) {
    const props = next.get(u.profileId);
    if (props !== undefined) next.set(u.profileId, applyUserProperties(props, u.userProperties));
  }
  for (const [id, props] of next) {
    const text = toJson(props);
    if (text === toJson(current.get(id))) continue;
    await tx.updateTable('profiles').set({ properties: text, updated_at: now }).where('id', '=', id).execute();
    changed.add(id);
  }
  // Property changes are identity-level changes for real-time syncs, as for member uploads with properties.
  for (const part of chunks([...changed], ROWS_PER_INSERT)) {
    await tx
      .insertInto('member_changes')
      .values(part.map((id) => ({ project_id: projectId, cohort_id: null, profile_id: id, at: now })))
      .execute();
  }
  return changed;
}

// SQLite's two statements per request, compiled by hand (bound-batch.ts). No statement journal: new keys are
// claimed OR IGNORE, events inserted OR FAIL (a failure rolls the whole transaction back anyway).
const claimKeysSqlite = boundBatch(
  'insert or ignore into event_dedupe (project_id, scope, insert_id, at_ms) select ?, j.column1, j.column2, ?',
  2,
  ' returning scope, insert_id',
);
const insertEventsSqlite = boundBatch(
  `insert or fail into events (project_id, profile_id, event_type, time_ms, insert_id, user_id, device_id,
    event_properties, user_properties, data, received_ms)
  select ?, cast(j.column1 as integer), j.column2, cast(j.column3 as bigint), j.column4, j.column5, j.column6,
    j.column7, j.column8, j.column9, ?`,
  9,
);

/**
 * Keys not seen since `sinceMs` (recorded now); the rest are duplicates. `plain` (PostgreSQL): claim them with a
 * plain INSERT, which fails with a unique violation if any key is already there — the caller then reruns the
 * transaction with the upsert. ON CONFLICT costs a speculative insertion per key (an index probe before the
 * insertion's own, ~10% of the backends' CPU in the write path), and a batch of new keys is the common case;
 * a retried batch (all duplicates) or a key older than the window costs one failed statement more.
 */
async function freshKeys(
  tx: Tx,
  dialect: StoreDialect,
  projectId: string,
  keys: readonly { scope: string; insertId: string }[],
  at: { receivedMs: number; dedupeSinceMs: number },
  plain: boolean,
): Promise<Set<string>> {
  const fresh = new Set<string>();
  const keyOf = (row: { scope: string; insert_id: string }) => `${row.scope}\u0000${row.insert_id}`;
  // Sorted, so concurrent requests lock keys in one order on PostgreSQL.
  const sorted = [...keys].sort((a, b) =>
    a.scope === b.scope ? (a.insertId < b.insertId ? -1 : 1) : a.scope < b.scope ? -1 : 1,
  );
  for (const part of chunks(sorted, ROWS_PER_INSERT * 5)) {
    if (!dialect.statementJournals) {
      const r = dialect.rowSource(part.map((k) => [k.scope, k.insertId]));
      if (plain) {
        await sql`${sql.raw(PREPARED)}insert into event_dedupe (project_id, scope, insert_id, at_ms)
          select ${projectId}, ${r.value(0)}, ${r.value(1)}, ${at.receivedMs} from ${r.from} where ${r.present}`.execute(
          tx,
        );
        for (const k of part) fresh.add(keyOf({ scope: k.scope, insert_id: k.insertId }));
        continue;
      }
      const rows = await sql<{ scope: string; insert_id: string }>`${sql.raw(PREPARED)}insert into event_dedupe
          (project_id, scope, insert_id, at_ms)
        select ${projectId}, ${r.value(0)}, ${r.value(1)}, ${at.receivedMs} from ${r.from} where ${r.present}
        on conflict ${sql.raw(dialect.dedupeKey)} do update set at_ms = excluded.at_ms
          where event_dedupe.at_ms < ${at.dedupeSinceMs}
        returning scope, insert_id`.execute(tx);
      for (const row of rows.rows) fresh.add(keyOf(row));
      continue;
    }
    // New keys in one statement; keys already there (duplicates, or expired and so fresh again) are rare and
    // get a second one. A single writer: nothing can claim a key between the two.
    const inserted = await tx.executeQuery<{ scope: string; insert_id: string }>(
      claimKeysSqlite(
        [projectId, at.receivedMs],
        part.map((k) => [k.scope, k.insertId]),
      ),
    );
    for (const row of inserted.rows) fresh.add(keyOf(row));
    const present = part.filter((k) => !fresh.has(keyOf({ scope: k.scope, insert_id: k.insertId })));
    if (present.length === 0) continue;
    const p = dialect.rowSource(present.map((k) => [k.scope, k.insertId]));
    const renewed = await sql<{ scope: string; insert_id: string }>`update event_dedupe set at_ms = ${at.receivedMs}
      where project_id = ${projectId} and at_ms < ${at.dedupeSinceMs}
        and (scope, insert_id) in (select ${p.value(0)}, ${p.value(1)} from ${p.from} where ${p.present})
      returning scope, insert_id`.execute(tx);
    for (const row of renewed.rows) fresh.add(keyOf(row));
  }
  return fresh;
}

export class KyselyEventStore implements EventStore {
  private readonly group: GroupCommit | null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
  ) {
    this.group = dialect.singleWriter ? new GroupCommit(db) : null;
  }

  /**
   * One transaction per request — shared with the requests waiting beside it where there is a single writer
   * (a failing one reruns alone, group-commit.ts) — retried on PostgreSQL when concurrent requests collide;
   * unavailability is typed.
   */
  private async inTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.group) return this.group.run(work);
    return unavailableAs(async () => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await this.db.transaction().execute(work);
        } catch (error) {
          if (this.dialect.engine !== 'postgres' || attempt >= ATTEMPTS || !isRetryableConflict(error)) throw error;
        }
      }
    });
  }

  projectOfIngestKey(hash: string): Promise<string | undefined> {
    return unavailableAs(async () => {
      const row = await this.db
        .selectFrom('projects')
        .select('id')
        .where('ingest_key_hash', '=', hash)
        .executeTakeFirst();
      return row?.id;
    });
  }

  ingest(
    projectId: string,
    events: readonly EventToStore[],
    at: { receivedMs: number; now: string; dedupeSinceMs: number },
  ): Promise<StoredOutcome> {
    // PostgreSQL claims the keys with a plain INSERT until one of them turns out to be there (freshKeys).
    let plainKeys = this.dialect.claimsKeysPlainly;
    return this.inTransaction(async (tx) => {
      // Duplicates first (within the request too): they create no profile and change nothing.
      const seen = new Set<string>();
      const keyed: { scope: string; insertId: string }[] = [];
      const candidates: { event: EventToStore; key: string | null }[] = [];
      let duplicates = 0;
      for (const event of events) {
        if (event.insertId === null) {
          candidates.push({ event, key: null });
          continue;
        }
        const scope = (event.deviceId ?? event.userId) as string;
        const key = `${scope}\u0000${event.insertId}`;
        if (seen.has(key)) {
          duplicates += 1;
          continue;
        }
        seen.add(key);
        keyed.push({ scope, insertId: event.insertId });
        candidates.push({ event, key });
      }
      let fresh = new Set<string>();
      try {
        if (keyed.length > 0) fresh = await freshKeys(tx, this.dialect, projectId, keyed, at, plainKeys);
      } catch (error) {
        // A key already there: the transaction reruns (a retryable conflict) with the upsert.
        if (plainKeys && isUniqueViolation(error)) plainKeys = false;
        throw error;
      }
      const kept = candidates.filter((c) => c.key === null || fresh.has(c.key)).map((c) => c.event);
      duplicates += candidates.length - kept.length;

      const identities = new Identities(tx, this.dialect, projectId, at.now);
      await identities.preload(kept);
      const owners: number[] = [];
      for (const e of kept) owners.push(await identities.resolve(e.userId, e.deviceId));
      const profileOf = (i: number) => identities.final(owners[i] as number);

      const profiles = kept.map((_, i) => profileOf(i));
      for (let from = 0; from < kept.length; from += ROWS_PER_INSERT * 5) {
        const part = kept.slice(from, from + ROWS_PER_INSERT * 5);
        const rows = part.map((e, i) => [
          profiles[from + i],
          e.eventType,
          e.timeMs,
          e.insertId,
          e.userId,
          e.deviceId,
          e.eventProperties,
          e.userProperties,
          e.data,
        ]);
        if (this.dialect.statementJournals) {
          await tx.executeQuery(insertEventsSqlite([projectId, at.receivedMs], rows));
          continue;
        }
        const r = this.dialect.rowSource(rows);
        await sql`${sql.raw(PREPARED)}insert into events (project_id,
            profile_id, event_type, time_ms, insert_id, user_id, device_id, event_properties, user_properties, data,
            received_ms)
          select ${projectId}, cast(${r.value(0)} as integer), ${r.value(1)}, cast(${r.value(2)} as bigint),
            ${r.value(3)}, ${r.value(4)}, ${r.value(5)}, ${r.json(6)}, ${r.json(7)}, ${r.json(8)}, ${at.receivedMs}
          from ${r.from} where ${r.present}`.execute(tx);
      }

      const updates = kept.flatMap((e, i) =>
        Object.keys(e.userProperties).length > 0 ? [{ profileId: profileOf(i), userProperties: e.userProperties }] : [],
      );
      const changed = await applyUpdates(tx, projectId, updates, at.now);
      const touched = new Set<number>([...identities.touched, ...profiles, ...changed]);
      return {
        stored: kept.length,
        duplicates,
        profileIds: [...touched],
        eventTypes: [...new Set(kept.map((e) => e.eventType))],
        propertiesChanged: changed.size > 0,
        events: kept.map((e, i) => ({
          profileId: profiles[i] as number,
          eventType: e.eventType,
          eventProperties: e.eventProperties,
        })),
        propertyProfiles: [...changed],
        identityProfiles: identities.linked(),
      };
    });
  }

  identify(projectId: string, updates: readonly IdentifyUpdate[], now: string): Promise<StoredOutcome> {
    return this.inTransaction(async (tx) => {
      const identities = new Identities(tx, this.dialect, projectId, now);
      await identities.preload(updates);
      const owners: number[] = [];
      for (const u of updates) owners.push(await identities.resolve(u.userId, u.deviceId));
      const resolved = updates.map((u, i) => ({
        profileId: identities.final(owners[i] as number),
        userProperties: u.userProperties,
      }));
      const changed = await applyUpdates(tx, projectId, resolved, now);
      const touched = new Set<number>([...identities.touched, ...resolved.map((r) => r.profileId)]);
      return {
        stored: 0,
        duplicates: 0,
        profileIds: [...touched],
        eventTypes: [],
        propertiesChanged: changed.size > 0,
        events: [],
        propertyProfiles: [...changed],
        identityProfiles: identities.linked(),
      };
    });
  }

  pruneEvents(projectId: string, beforeMs: number, limit: number): Promise<number> {
    return unavailableAs(async () => {
      // Type by type through events_type_time (project_id, event_type, time_ms): the types come from a skip
      // over that index (one probe per type), so events need no (project_id, time_ms) index of their own
      // (migration 0180).
      const types = await sql<{ t: string }>`with recursive types(t) as (
          select min(event_type) from events where project_id = ${projectId}
          union all
          select (select min(e.event_type) from events e where e.project_id = ${projectId} and e.event_type > types.t)
          from types where types.t is not null)
        select t from types where t is not null`.execute(this.db);
      let deleted = 0;
      for (const { t } of types.rows) {
        if (deleted >= limit) break;
        const r = await sql`delete from events where id in (
          select id from events where project_id = ${projectId} and event_type = ${t} and time_ms < ${beforeMs}
          limit ${limit - deleted})`.execute(this.db);
        deleted += Number(r.numAffectedRows ?? 0);
      }
      return deleted;
    });
  }

  pruneDedupe(beforeMs: number, limit: number): Promise<number> {
    return unavailableAs(async () => {
      const r = await this.dialect.expiredKeys(beforeMs, limit).execute(this.db);
      return Number(r.numAffectedRows ?? 0);
    });
  }
}
