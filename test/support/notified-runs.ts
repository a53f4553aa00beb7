// Wraps a RunNotifier so a test knows when it has handled a run and its mails and webhooks are out — and so
// can also assert that nothing was sent.

import type { AppDeps } from '../../src/app/deps.ts';
import type { RunNotifier } from '../../src/app/notifications.ts';
import type { RunObserver } from '../../src/app/run-events.ts';
import type { Run } from '../../src/domain/model.ts';
import { waitForRun } from './flows.ts';

export interface NotifiedRuns {
  /** Give this to the harness as its observer; it forwards to the current notifier. */
  readonly observer: RunObserver;
  /** Waits for the run to finish and for the notifier to have handled it. */
  finished(deps: AppDeps, runId: string): Promise<Run>;
}

export function notifiedRuns(notifier: () => RunNotifier): NotifiedRuns {
  const settled = new Set<string>();
  return {
    observer: {
      async runFinished(event) {
        try {
          await notifier().runFinished(event);
          await notifier().idle();
        } finally {
          settled.add(event.run.id);
        }
      },
    },
    async finished(deps, runId) {
      const run = await waitForRun(deps, runId);
      const deadline = Date.now() + 10_000;
      while (!settled.has(runId)) {
        if (Date.now() > deadline) throw new Error(`the notifier never handled run ${runId}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return run;
    },
  };
}
