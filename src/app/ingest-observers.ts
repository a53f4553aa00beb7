// Who hears about ingested events: the behavioral evaluator (real-time cohorts) registers here in the
// composition root. Told after the request's transaction committed, once per accepted request.
import type { Logger } from '../ports/logger.ts';
import { Subscribers } from './subscribers.ts';

export interface IngestedBatch {
  readonly projectId: string;
  /** Distinct profiles touched: by events, by user-property updates, and both sides of a merge. */
  readonly profileIds: readonly number[];
  /** Distinct event types stored by the request (empty for /identify). */
  readonly eventTypes: readonly string[];
  /** Whether any profile's user properties changed. */
  readonly propertiesChanged: boolean;
  /** The stored events by owner (type and properties): lets real-time evaluation skip what they cannot change. */
  readonly events: readonly { profileId: number; eventType: string; eventProperties: Record<string, unknown> }[];
  /** Profiles whose user properties changed. */
  readonly propertyProfiles: readonly number[];
  /** Profiles on either side of a link or merge. */
  readonly identityProfiles: readonly number[];
}

export type IngestedListener = (e: IngestedBatch) => Promise<void> | void;

export class IngestObservers {
  private readonly listeners = new Subscribers<IngestedListener>();

  constructor(private readonly logger: Logger) {}

  /** Registers a listener; returns the function that removes it. */
  onIngested(listener: IngestedListener): () => void {
    return this.listeners.add(listener);
  }

  /**
   * Awaited by the request, so a slow listener slows ingestion down instead of piling work up; listeners
   * that do heavy work should queue it. A failing listener is logged: the events are stored already.
   */
  async notify(batch: IngestedBatch): Promise<void> {
    if (batch.profileIds.length === 0 && batch.eventTypes.length === 0) return;
    for (const listener of this.listeners.all()) {
      try {
        await listener(batch);
      } catch (error) {
        this.logger.error({ err: error, projectId: batch.projectId }, 'an ingestion listener failed');
      }
    }
  }
}
