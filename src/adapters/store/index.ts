// Builds the Store port over either engine and applies migrations first.
import { sql } from 'kysely';
import type { Store } from '../../ports/store.ts';
import { KyselyBehavioralRepo } from './behavioral-repo.ts';
import { KyselyCohortsRepo, KyselyProjectsRepo, KyselyTargetsRepo, KyselyTokensRepo } from './catalog-repos.ts';
import { openStoreDb, type StoreDb, type StoreLocation } from './db.ts';
import { KyselyEventStore } from './event-repo.ts';
import { ThreadedEventStore } from './ingest-writer.ts';
import { KyselyMembershipRepo } from './membership-repo.ts';
import { migrate } from './migrator.ts';
import { KyselyNotificationStateRepo, KyselyWebhookDeliveriesRepo } from './notification-repos.ts';
import { KyselyPlanningRepo } from './planning-repo.ts';
import { KyselyItemFailuresRepo } from './run-counts.ts';
import { KyselyAudiencesRepo, KyselyRunsRepo, KyselySyncsRepo } from './sync-repos.ts';

export type { StoreLocation } from './db.ts';

export interface OpenedStore extends Store {
  readonly raw: StoreDb;
  readonly location: StoreLocation;
  /** PostgreSQL: the schema our tables are in (the URL's search_path or the location's schema). */
  currentSchema(): Promise<string>;
  /** Runs a PRAGMA on every SQLite connection of the store (the main one and ingestion's writer). */
  pragmaEverywhere(text: string): Promise<void>;
}

export function storeOver(raw: StoreDb, location: StoreLocation): OpenedStore {
  const { db, dialect, engine } = raw;
  const local = new KyselyEventStore(db, dialect);
  // Where asked, ingestion's writes on a thread of their own (ingest-writer.ts); `:memory:` is one connection.
  const writer =
    location.kind === 'sqlite' && location.ingestThread && location.file !== ':memory:'
      ? new ThreadedEventStore(local, {
          file: location.file,
          ...(location.busyTimeoutMs !== undefined ? { busyTimeoutMs: location.busyTimeoutMs } : {}),
        })
      : null;
  const behavioral = new KyselyBehavioralRepo(db, dialect);
  return {
    raw,
    location,
    currentSchema: async () =>
      engine === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]!.s : 'main',
    projects: new KyselyProjectsRepo(db),
    tokens: new KyselyTokensRepo(db),
    targets: new KyselyTargetsRepo(db),
    cohorts: new KyselyCohortsRepo(db),
    membership: new KyselyMembershipRepo(db, dialect),
    syncs: new KyselySyncsRepo(db),
    audiences: new KyselyAudiencesRepo(db),
    runs: new KyselyRunsRepo(db),
    planning: new KyselyPlanningRepo(db, dialect),
    behavioral: writer ? writer.behavioralOver(behavioral) : behavioral,
    itemFailures: new KyselyItemFailuresRepo(db),
    notificationState: new KyselyNotificationStateRepo(db),
    webhookDeliveries: new KyselyWebhookDeliveriesRepo(db),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    pragmaEverywhere: async (text) => {
      await sql.raw(`pragma ${text}`).execute(db);
      await writer?.pragma(text);
    },
    events: writer ?? local,
    close: async () => {
      await writer?.close();
      await raw.close();
    },
  };
}

export async function openStore(location: StoreLocation, opts: { migrate?: boolean } = {}): Promise<OpenedStore> {
  const raw = openStoreDb(location);
  if (opts.migrate !== false) await migrate(raw);
  return storeOver(raw, location);
}
