// A whole engine for integration tests: a real store, the real Braze client, the real sandbox over HTTP,
// and a worker. Only the retry waits are shortened so fault tests run in seconds.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { AppSettings } from '../../src/app/deps.ts';
import { startWorker, type Worker } from '../../src/app/worker.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';
import type { TestEngine } from './engines.ts';

export interface Harness extends Composed {
  readonly sandbox: RunningSandbox;
  readonly worker: Worker;
  close(): Promise<void>;
}

export async function startHarness(
  engine: TestEngine,
  opts: {
    settings?: Partial<AppSettings>;
    requestsPerHour?: number;
    /** The client's budget window (default an hour) and whether it paces through the store (PostgreSQL). */
    braze?: { budgetWindowMs?: number; sharedLimiter?: boolean };
    /** A budget the sandbox enforces per key (default none binding). */
    sandboxBudget?: { requestsPerHour: number; budgetWindowMs: number };
  } = {},
): Promise<Harness> {
  const sandbox = await startSandbox({ port: 0, ...opts.sandboxBudget });
  const fresh = await engine.fresh();
  const composed = await compose({
    store: fresh.location,
    secretKey: randomBytes(32),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    braze: {
      partnerSlug: 'cohort-sync',
      partnerKeys: { US: 'sandbox-partner-key' },
      requestsPerHour: opts.requestsPerHour ?? 250_000,
      retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 6 },
      requestTimeoutMs: 2_000,
      ...opts.braze,
    },
    settings: { allowedEndpoints: [sandbox.url], leaseTtlMs: 5_000, ...opts.settings },
  });
  const worker = await startWorker(composed.deps, { owner: composed.owner, sweepEveryMs: 200 });
  return {
    ...composed,
    sandbox,
    worker,
    async close() {
      await worker.stop();
      await composed.store.close();
      await sandbox.close();
      await fresh.drop();
    },
  };
}
