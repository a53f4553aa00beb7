/**
 * The queue only dispatches "work on Braze cohort X"; correctness lives in the store (leases, fences,
 * run rows), so the in-process queue and pg-boss behave alike (docs/design.md, "Run coordination").
 */
export interface JobQueue {
  dispatch(brazeCohortId: string): Promise<void>;
  start(handler: (brazeCohortId: string) => Promise<void>): Promise<void>;
  /** Stops taking work and waits for running handlers. */
  stop(): Promise<void>;
  /** Resolves when the queue can take dispatches (readiness, `GET /readyz`); rejects saying why not. */
  ping(): Promise<void>;
}
