// Ingestion of Amplitude-format events and identify calls (docs/ingestion.md). The composition root builds
// one Ingestion per process; the HTTP routes call it, and real-time cohort evaluation listens through
// onIngested. Outcomes are protocol-neutral; the routes turn them into Amplitude's response bodies.
import { type EventProblems, validateEvents } from '../domain/amplitude-event.ts';
import { validateIdentifications } from '../domain/identify.ts';
import { type StoredOutcome, StoreUnavailableError } from '../ports/event-store.ts';
import type { Uses } from './deps.ts';
import { EventBudget } from './ingest-budget.ts';
import { type IngestedListener, IngestObservers } from './ingest-observers.ts';

export type { IngestedBatch, IngestedListener } from './ingest-observers.ts';

export const DAY_MS = 86_400_000;
/** Amplitude deduplicates an insert_id per device for 7 days. */
export const DEDUPE_WINDOW_MS = 7 * DAY_MS;
/** Most events one request may carry (413 above). */
export const MAX_EVENTS_PER_REQUEST = 2_000;

export interface IngestSettings {
  /** Events per second one project may send (429 above); 0 = no budget. */
  readonly eventsPerSecond: number;
}

export const DEFAULT_INGEST_SETTINGS: IngestSettings = { eventsPerSecond: 50_000 };

export type IngestOutcome =
  | { readonly kind: 'invalid_api_key' }
  | { readonly kind: 'unavailable' }
  | {
      readonly kind: 'throttled';
      readonly epsThreshold: number;
      readonly throttledDevices: Record<string, number>;
      readonly throttledUsers: Record<string, number>;
      readonly throttledEvents: number[];
    }
  | ({
      readonly kind: 'accepted';
      /** Valid events of the request (duplicates included: they are acknowledged, not stored twice). */
      readonly accepted: number;
      readonly stored: number;
      readonly duplicates: number;
    } & EventProblems);

export const hasProblems = (p: EventProblems) =>
  Object.keys(p.invalidFields).length > 0 || Object.keys(p.missingFields).length > 0;

function countBy(values: readonly (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) if (v !== null) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Storing events and identify calls: the event store, the clock of arrival, and the log. */
export type IngestionDeps = Uses<'clock' | 'logger', 'events'>;

export class Ingestion {
  private readonly observers: IngestObservers;
  private readonly budget: EventBudget;
  readonly settings: IngestSettings;

  constructor(
    readonly deps: IngestionDeps,
    private readonly hashKey: (key: string) => string,
    settings: Partial<IngestSettings> = {},
  ) {
    this.settings = { ...DEFAULT_INGEST_SETTINGS, ...settings };
    this.observers = new IngestObservers(deps.logger);
    this.budget = new EventBudget(this.settings.eventsPerSecond);
  }

  /** Registers a listener told after each accepted request's transaction commits; returns its remover. */
  onIngested(listener: IngestedListener): () => void {
    return this.observers.onIngested(listener);
  }

  /** Validates and stores a request's events (the body's `events`, already known to be an array). */
  async ingestEvents(input: {
    apiKey: string;
    events: readonly unknown[];
    minIdLength: number;
  }): Promise<IngestOutcome> {
    return this.guard(async () => {
      const projectId = await this.projectOf(input.apiKey);
      if (projectId === undefined) return { kind: 'invalid_api_key' };
      const receivedMs = this.deps.clock.now().getTime();
      const checked = validateEvents(input.events, { minIdLength: input.minIdLength, receivedMs });
      const { valid } = checked;
      if (!this.budget.take(projectId, valid.length, receivedMs)) {
        return {
          kind: 'throttled',
          epsThreshold: this.budget.perSecond,
          throttledDevices: countBy(valid.map((e) => e.deviceId)),
          throttledUsers: countBy(valid.map((e) => e.userId)),
          throttledEvents: valid.map((e) => e.index),
        };
      }
      const outcome =
        valid.length === 0
          ? undefined
          : await this.deps.store.events.ingest(projectId, valid, {
              receivedMs,
              now: new Date(receivedMs).toISOString(),
              dedupeSinceMs: receivedMs - DEDUPE_WINDOW_MS,
            });
      if (outcome) await this.tell(projectId, outcome);
      return {
        kind: 'accepted',
        accepted: valid.length,
        stored: outcome?.stored ?? 0,
        duplicates: outcome?.duplicates ?? 0,
        invalidFields: checked.invalidFields,
        missingFields: checked.missingFields,
      };
    });
  }

  /** Applies /identify's user-property updates (the `identification` entries, already an array). */
  async identify(input: { apiKey: string; identifications: readonly unknown[] }): Promise<IngestOutcome> {
    return this.guard(async () => {
      const projectId = await this.projectOf(input.apiKey);
      if (projectId === undefined) return { kind: 'invalid_api_key' };
      const checked = validateIdentifications(input.identifications);
      const now = this.deps.clock.now().toISOString();
      const outcome =
        checked.valid.length === 0 ? undefined : await this.deps.store.events.identify(projectId, checked.valid, now);
      if (outcome) await this.tell(projectId, outcome);
      return {
        kind: 'accepted',
        accepted: checked.valid.length,
        stored: 0,
        duplicates: 0,
        invalidFields: checked.invalidFields,
        missingFields: checked.missingFields,
      };
    });
  }

  private projectOf(apiKey: string): Promise<string | undefined> {
    return this.deps.store.events.projectOfIngestKey(this.hashKey(apiKey));
  }

  private async tell(projectId: string, outcome: StoredOutcome): Promise<void> {
    await this.observers.notify({
      projectId,
      profileIds: outcome.profileIds,
      eventTypes: outcome.eventTypes,
      propertiesChanged: outcome.propertiesChanged,
      events: outcome.events,
      propertyProfiles: outcome.propertyProfiles,
      identityProfiles: outcome.identityProfiles,
    });
  }

  private async guard(work: () => Promise<IngestOutcome>): Promise<IngestOutcome> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      this.deps.logger.warn({ err: error }, 'ingestion refused: the store cannot take writes now');
      return { kind: 'unavailable' };
    }
  }
}
