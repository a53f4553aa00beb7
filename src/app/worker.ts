// The worker: takes dispatched Braze cohorts from the queue, and sweeps for work a crashed process left
// behind (runs still unfinished whose lease expired).
import type { Uses } from './deps.ts';
import { RunExecutor, type RunExecutorDeps } from './run-executor.ts';

/** The executor's deps, and the queue it takes work from. */
export type WorkerDeps = RunExecutorDeps & Uses<'queue'>;

export interface Worker {
  readonly executor: RunExecutor;
  /** One sweep: re-dispatches orphaned work. Exposed for tests; the loop calls it on an interval. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export async function startWorker(deps: WorkerDeps, opts: { owner: string; sweepEveryMs?: number }): Promise<Worker> {
  const executor = new RunExecutor(deps, opts.owner);
  await deps.queue.start((brazeCohortId) => executor.processAudience(brazeCohortId));
  const sweep = async () => {
    const orphans = await deps.store.audiences.orphaned(deps.clock.now());
    for (const id of orphans) await deps.queue.dispatch(id);
    return orphans.length;
  };
  await sweep().catch((err: unknown) => deps.logger.error({ err }, 'sweep failed'));
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => deps.logger.error({ err }, 'sweep failed'));
  }, opts.sweepEveryMs ?? 5_000);
  timer.unref();
  return {
    executor,
    sweep,
    stop: async () => {
      clearInterval(timer);
      executor.stop();
      await deps.queue.stop();
    },
  };
}
