// Observers hear about finished runs (notifications, metrics) without the executor knowing them.
import type { Run, Sync } from '../domain/model.ts';

export interface RunFinishedEvent {
  readonly run: Run;
  readonly sync: Sync | undefined;
}

export interface RunObserver {
  runFinished(event: RunFinishedEvent): Promise<void> | void;
}
