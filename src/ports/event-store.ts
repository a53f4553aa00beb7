// What ingestion needs from the store: one transaction per request that resolves identities, drops
// duplicates, stores events and applies user-property updates; plus pruning for retention.

/** An event ready to store (validated by domain/amplitude-event.ts). */
export interface EventToStore {
  readonly eventType: string;
  readonly userId: string | null;
  readonly deviceId: string | null;
  readonly timeMs: number;
  readonly insertId: string | null;
  readonly eventProperties: Record<string, unknown>;
  /** As sent; applied to the profile's properties (operations or plain keys) when not empty. */
  readonly userProperties: Record<string, unknown>;
  readonly data: Record<string, unknown>;
}

/** A user-property update of /identify: one profile named by user_id and/or device_id. */
export interface IdentifyUpdate {
  readonly userId: string | null;
  readonly deviceId: string | null;
  readonly userProperties: Record<string, unknown>;
}

export interface StoredOutcome {
  /** Events written (duplicates of an insert_id seen within the dedupe window are not). */
  readonly stored: number;
  readonly duplicates: number;
  /** Distinct profiles touched: owners of events, updated profiles, both sides of merges. */
  readonly profileIds: readonly number[];
  /** Distinct event types written. */
  readonly eventTypes: readonly string[];
  readonly propertiesChanged: boolean;
  /** The stored events' owners (after merges), types and properties, in request order. */
  readonly events: readonly { profileId: number; eventType: string; eventProperties: Record<string, unknown> }[];
  /** Profiles whose user properties changed. */
  readonly propertyProfiles: readonly number[];
  /** Profiles on either side of a link or merge (a merged-away one no longer exists). */
  readonly identityProfiles: readonly number[];
}

export interface EventStore {
  /** The project whose ingest key has this hash. */
  projectOfIngestKey(hash: string): Promise<string | undefined>;
  /** All in one transaction; `dedupeSinceMs`: an insert_id seen at or after it is a duplicate. */
  ingest(
    projectId: string,
    events: readonly EventToStore[],
    at: { receivedMs: number; now: string; dedupeSinceMs: number },
  ): Promise<StoredOutcome>;
  identify(projectId: string, updates: readonly IdentifyUpdate[], now: string): Promise<StoredOutcome>;
  /** Deletes up to `limit` events of the project older than `beforeMs`; returns how many. */
  pruneEvents(projectId: string, beforeMs: number, limit: number): Promise<number>;
  /** Deletes up to `limit` dedupe keys seen before `beforeMs`; returns how many. */
  pruneDedupe(beforeMs: number, limit: number): Promise<number>;
}

/**
 * The store cannot take writes now (read-only, full, locked, closed, unreachable): the request may be
 * retried later. Adapters throw it in place of their driver's error.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
