// Behavioral-cohort tests: a composed app over a real store with a hand-moved clock, and rows written the way
// ingestion writes them (events with their profile, user properties as JSON text on the profile).
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import type { AppSettings } from '../../src/app/deps.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import type { TestEngine } from './engines.ts';
import { projectWithBraze } from './flows.ts';
import { ManualClock } from './waiting.ts';

export interface BehavioralWorld extends Composed {
  readonly clock: ManualClock;
  readonly projectId: string;
  profile(userId: string, properties?: Record<string, unknown>): Promise<number>;
  setProperties(profileId: number, properties: Record<string, unknown>): Promise<void>;
  event(profileId: number, type: string, timeMs: number, properties?: Record<string, unknown>): Promise<void>;
  members(cohortId: string): Promise<number[]>;
  close(): Promise<void>;
}

type StoreDb = Composed['store']['raw']['db'];

/** A profile row as ingestion writes it (user properties as JSON text); its id. */
export async function insertProfile(
  db: StoreDb,
  projectId: string,
  userId: string,
  properties: Record<string, unknown>,
  now: string,
): Promise<number> {
  const row = await db
    .insertInto('profiles')
    .values({
      project_id: projectId,
      user_id: userId,
      properties: JSON.stringify(properties),
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** An event row as ingestion writes it, received at its own time. */
export async function insertEvent(
  db: StoreDb,
  projectId: string,
  e: { profileId: number; type: string; timeMs: number; properties?: Record<string, unknown> },
): Promise<void> {
  await sql`insert into events (project_id, profile_id, event_type, time_ms, event_properties, data, received_ms)
    values (${projectId}, ${e.profileId}, ${e.type}, ${e.timeMs}, ${JSON.stringify(e.properties ?? {})}, '{}', ${e.timeMs})`.execute(
    db,
  );
}

export const T0 = Date.parse('2026-06-01T12:00:00.000Z');

export async function behavioralWorld(
  engine: TestEngine,
  settings: Partial<AppSettings> = {},
): Promise<BehavioralWorld> {
  const fresh = await engine.fresh();
  const clock = new ManualClock(T0);
  const composed = await compose({
    store: fresh.location,
    secretKey: randomBytes(32),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    braze: { partnerSlug: 'cohort-sync', partnerKeys: {}, requestsPerHour: 250_000 },
    clock,
    settings,
  });
  const db = composed.store.raw.db;
  const project = await projectWithBraze(composed.deps);
  return {
    ...composed,
    clock,
    projectId: project.id,
    async profile(userId, properties = {}) {
      return insertProfile(db, project.id, userId, properties, new Date(clock.now()).toISOString());
    },
    async setProperties(profileId, properties) {
      await db
        .updateTable('profiles')
        .set({ properties: JSON.stringify(properties) })
        .where('id', '=', profileId)
        .execute();
    },
    async event(profileId, type, timeMs, properties = {}) {
      await insertEvent(db, project.id, { profileId, type, timeMs, properties });
    },
    async members(cohortId) {
      const rows = await db
        .selectFrom('cohort_members')
        .select('profile_id')
        .where('cohort_id', '=', cohortId)
        .orderBy('profile_id')
        .execute();
      return rows.map((r) => r.profile_id);
    },
    async close() {
      await composed.store.close();
      await fresh.drop();
    },
  };
}
