// Ingestion of Amplitude-format events and identify calls (docs/ingestion.md). The composition root builds
// one Ingestion per process; the HTTP routes call it, and real-time cohort evaluation listens through
// onIngested.
import type { AppDeps } from './deps.ts';
import { type IngestedListener, IngestObservers } from './ingest-observers.ts';

export type { IngestedBatch, IngestedListener } from './ingest-observers.ts';

export class Ingestion {
  private readonly observers: IngestObservers;

  constructor(readonly deps: AppDeps) {
    this.observers = new IngestObservers(deps.logger);
  }

  /** Registers a listener told after each accepted request's transaction commits; returns its remover. */
  onIngested(listener: IngestedListener): () => void {
    return this.observers.onIngested(listener);
  }
}
