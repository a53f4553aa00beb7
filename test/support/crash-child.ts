// A worker process for test/integration/crash.test.ts, which SIGKILLs it at random points and starts another.
// It composes the real engine on the store the test prepared, starts a worker (whose sweeper picks up runs
// left unfinished once their lease expires) and exits 0 when the Braze cohort has no unfinished run left.
// Run as: node --import tsx test/support/crash-child.ts, with CRASH_CHILD_CONFIG holding a JSON CrashChildConfig.
import pino from 'pino';
import type { StoreLocation } from '../../src/adapters/store/index.ts';
import { startWorker } from '../../src/app/worker.ts';
import { compose } from '../../src/entry/compose.ts';

export interface CrashChildConfig {
  readonly store: StoreLocation;
  /** Hex; the same key the test encrypted the target's Data Import Key with. */
  readonly secretKey: string;
  readonly sandboxUrl: string;
  readonly brazeCohortId: string;
  readonly leaseTtlMs: number;
  readonly concurrency: number;
}

const raw = process.env.CRASH_CHILD_CONFIG;
if (!raw) {
  process.stderr.write('crash-child: CRASH_CHILD_CONFIG is not set\n');
  process.exit(2);
}
const config = JSON.parse(raw) as CrashChildConfig;

const composed = await compose({
  store: config.store,
  secretKey: Buffer.from(config.secretKey, 'hex'),
  logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2)),
  braze: {
    partnerSlug: 'cohort-sync',
    partnerKeys: { US: 'sandbox-partner-key' },
    requestsPerHour: 250_000,
    retry: { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 6 },
    requestTimeoutMs: 5_000,
  },
  settings: { allowedEndpoints: [config.sandboxUrl], leaseTtlMs: config.leaseTtlMs, concurrency: config.concurrency },
});
const worker = await startWorker(composed.deps, { owner: composed.owner, sweepEveryMs: 100 });
process.stdout.write('started\n');

while (await composed.store.runs.nextUnfinished(config.brazeCohortId)) await new Promise((r) => setTimeout(r, 50));

await worker.stop();
await composed.store.close();
process.stdout.write('finished\n');
process.exit(0);
