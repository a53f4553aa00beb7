// Ingested events on either engine, one transaction per request. Identity follows resolveProfile (the
// same rules as member uploads: an event with both ids links the device to the user, an anonymous profile
// merges into the identified one and its events follow). Known ids are looked up in bulk first so an
// SDK-sized batch of returning users costs a handful of statements, not a few per event.
import { type Kysely, sql, type Transaction } from 'kysely';
import { applyUserProperties } from '../../domain/user-properties.ts';
import type { EventStore, EventToStore, IdentifyUpdate, StoredOutcome } from '../../ports/event-store.ts';
import type { Engine } from './db.ts';
import { parseJson, toJson } from './json.ts';
import { resolveProfile } from './membership-repo.ts';
import type { Database } from './schema.ts';
import { isRetryableConflict, unavailableAs } from './unavailable.ts';

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
  readonly touched = new Set<number>();

  constructor(
    private readonly tx: Tx,
    private readonly projectId: string,
    private readonly now: string,
  ) {}

  async preload(items: readonly { userId: string | null; deviceId: string | null }[]): Promise<void> {
    const users = [...new Set(items.map((i) => i.userId).filter((u): u is string => u !== null))];
    const devices = [...new Set(items.map((i) => i.deviceId).filter((d): d is string => d !== null))];
    for (const part of chunks(users, IDS_PER_LOOKUP)) {
      const rows = await this.tx
        .selectFrom('profiles')
        .select(['id', 'user_id'])
        .where('project_id', '=', this.projectId)
        .where('user_id', 'in', part)
        .execute();
      for (const r of rows) if (r.user_id !== null) this.byUser.set(r.user_id, r.id);
    }
    for (const part of chunks(devices, IDS_PER_LOOKUP)) {
      const rows = await this.tx
        .selectFrom('profile_devices')
        .select(['device_id', 'profile_id'])
        .where('project_id', '=', this.projectId)
        .where('device_id', 'in', part)
        .execute();
      for (const r of rows) this.byDevice.set(r.device_id, r.profile_id);
    }
  }

  /** The profile an (user_id, device_id) pair belongs to now, linking or merging as product.md §2 says. */
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
    for (const other of [before, beforeUser]) if (other !== undefined && other !== id) this.touched.add(other);
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

/** Keys not seen since `sinceMs` (recorded now); the rest are duplicates. */
async function freshKeys(
  tx: Tx,
  projectId: string,
  keys: readonly { scope: string; insertId: string }[],
  at: { receivedMs: number; dedupeSinceMs: number },
): Promise<Set<string>> {
  const fresh = new Set<string>();
  // Sorted, so concurrent requests lock keys in one order on PostgreSQL.
  const sorted = [...keys].sort((a, b) =>
    a.scope === b.scope ? (a.insertId < b.insertId ? -1 : 1) : a.scope < b.scope ? -1 : 1,
  );
  for (const part of chunks(sorted, ROWS_PER_INSERT)) {
    const rows = await tx
      .insertInto('event_dedupe')
      .values(part.map((k) => ({ project_id: projectId, scope: k.scope, insert_id: k.insertId, at_ms: at.receivedMs })))
      .onConflict((oc) =>
        oc
          .columns(['project_id', 'scope', 'insert_id'])
          .doUpdateSet({ at_ms: (eb) => eb.ref('excluded.at_ms') })
          .where('event_dedupe.at_ms', '<', at.dedupeSinceMs),
      )
      .returning(['scope', 'insert_id'])
      .execute();
    for (const r of rows) fresh.add(`${r.scope}\u0000${r.insert_id}`);
  }
  return fresh;
}

export class KyselyEventStore implements EventStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
  ) {}

  /** One transaction, retried on PostgreSQL when concurrent requests collide; unavailability is typed. */
  private async inTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return unavailableAs(async () => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await this.db.transaction().execute(work);
        } catch (error) {
          if (this.engine !== 'postgres' || attempt >= ATTEMPTS || !isRetryableConflict(error)) throw error;
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
      const fresh = keyed.length > 0 ? await freshKeys(tx, projectId, keyed, at) : new Set<string>();
      const kept = candidates.filter((c) => c.key === null || fresh.has(c.key)).map((c) => c.event);
      duplicates += candidates.length - kept.length;

      const identities = new Identities(tx, projectId, at.now);
      await identities.preload(kept);
      const owners: number[] = [];
      for (const e of kept) owners.push(await identities.resolve(e.userId, e.deviceId));
      const profileOf = (i: number) => identities.final(owners[i] as number);

      const rows = kept.map((e, i) => ({
        project_id: projectId,
        profile_id: profileOf(i),
        event_type: e.eventType,
        time_ms: e.timeMs,
        insert_id: e.insertId,
        user_id: e.userId,
        device_id: e.deviceId,
        event_properties: toJson(e.eventProperties),
        user_properties: toJson(e.userProperties),
        data: toJson(e.data),
        received_ms: at.receivedMs,
      }));
      for (const part of chunks(rows, ROWS_PER_INSERT)) await tx.insertInto('events').values(part).execute();

      const updates = kept.flatMap((e, i) =>
        Object.keys(e.userProperties).length > 0 ? [{ profileId: profileOf(i), userProperties: e.userProperties }] : [],
      );
      const changed = await applyUpdates(tx, projectId, updates, at.now);
      const touched = new Set<number>([...identities.touched, ...rows.map((r) => r.profile_id), ...changed]);
      return {
        stored: rows.length,
        duplicates,
        profileIds: [...touched],
        eventTypes: [...new Set(rows.map((r) => r.event_type))],
        propertiesChanged: changed.size > 0,
      };
    });
  }

  identify(projectId: string, updates: readonly IdentifyUpdate[], now: string): Promise<StoredOutcome> {
    return this.inTransaction(async (tx) => {
      const identities = new Identities(tx, projectId, now);
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
      };
    });
  }

  pruneEvents(projectId: string, beforeMs: number, limit: number): Promise<number> {
    return unavailableAs(async () => {
      const r = await sql`delete from events where id in (
        select id from events where project_id = ${projectId} and time_ms < ${beforeMs} limit ${limit})`.execute(
        this.db,
      );
      return Number(r.numAffectedRows ?? 0);
    });
  }

  pruneDedupe(beforeMs: number, limit: number): Promise<number> {
    return unavailableAs(async () => {
      const r = await sql`delete from event_dedupe where (project_id, scope, insert_id) in (
        select project_id, scope, insert_id from event_dedupe where at_ms < ${beforeMs} limit ${limit})`.execute(
        this.db,
      );
      return Number(r.numAffectedRows ?? 0);
    });
  }
}
