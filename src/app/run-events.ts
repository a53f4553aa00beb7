// Observers hear about finished runs (notifications, metrics) without the executor knowing them. The
// composition root builds the bus with the deps; observers are built afterwards from the finished deps and
// subscribe, so nothing is bound late (docs/architecture.md, "Observers register after composition").
import type { Run, Sync } from '../domain/model.ts';
import type { Logger } from '../ports/logger.ts';
import { Subscribers } from './subscribers.ts';

export interface RunFinishedEvent {
  readonly run: Run;
  readonly sync: Sync | undefined;
}

export interface RunObserver {
  runFinished(event: RunFinishedEvent): Promise<void> | void;
}

/** Where observers of finished runs register; returns the function that removes the observer. */
export interface RunEvents {
  subscribe(observer: RunObserver): () => void;
}

/** What the run executor tells: awaited in turn, so an observer's decisions keep the order of runs. */
export interface RunEventPublisher {
  publish(event: RunFinishedEvent): Promise<void>;
}

export class RunEventBus implements RunEvents, RunEventPublisher {
  private readonly observers = new Subscribers<RunObserver>();

  constructor(private readonly logger: Logger) {}

  subscribe(observer: RunObserver): () => void {
    return this.observers.add(observer);
  }

  /** A failing observer is logged and the others still hear: the run is finished already. */
  async publish(event: RunFinishedEvent): Promise<void> {
    for (const observer of this.observers.all()) {
      try {
        await observer.runFinished(event);
      } catch (err) {
        this.logger.warn({ err, runId: event.run.id }, 'a run observer failed');
      }
    }
  }
}
