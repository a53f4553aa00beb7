// The embedded job queue: dispatches "work on Braze cohort X" to handlers in this process, at most one
// handler per Braze cohort at a time and a bounded number overall. A dispatch while one is running is
// remembered and re-run after, so nothing requested is lost (the store's dirty flag says the same).
import type { JobQueue } from '../../ports/queue.ts';

export class InProcessQueue implements JobQueue {
  private handler: ((id: string) => Promise<void>) | null = null;
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private stopped = false;

  constructor(
    private readonly concurrency = 4,
    private readonly onError: (id: string, error: unknown) => void = () => {},
  ) {}

  async dispatch(id: string): Promise<void> {
    if (this.stopped) return;
    if (this.running.has(id)) {
      this.again.add(id);
      return;
    }
    if (!this.queued.has(id)) {
      this.queued.add(id);
      this.waiting.push(id);
    }
    this.pump();
  }

  async start(handler: (id: string) => Promise<void>): Promise<void> {
    this.handler = handler;
    this.stopped = false;
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running.values()]);
  }

  async ping(): Promise<void> {
    if (this.stopped) throw new Error('the in-process queue is stopped');
  }

  /** Resolves once nothing is queued or running (tests and the demo wait on it). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.waiting.length > 0) {
      await Promise.allSettled([...this.running.values()]);
      await new Promise((r) => setImmediate(r));
    }
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler || this.stopped) return;
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      this.queued.delete(id);
      const job = handler(id)
        .catch((error: unknown) => this.onError(id, error))
        .finally(() => {
          this.running.delete(id);
          if (this.again.delete(id)) void this.dispatch(id);
          this.pump();
        });
      this.running.set(id, job);
    }
  }
}
