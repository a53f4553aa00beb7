// The delivery bench: a real sync of a large static cohort through the real run executor and Braze client
// (compose + startWorker, as test/support/harness.ts wires them) into the Braze sandbox over HTTP — in a
// process of its own, as Braze is another machine — with the sandbox enforcing an hourly budget and the client
// configured for the same budget. It measures the rate of membership requests the run sustains against that
// budget, counts 429s, and checks that nothing was lost: the identifiers the sandbox holds for the cohort are
// exactly the cohort's.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';
import { generateToken, hashToken } from '../src/adapters/crypto/secrets.ts';
import { createStaticCohort } from '../src/app/cohorts.ts';
import { createProject } from '../src/app/projects.ts';
import { createSync } from '../src/app/syncs.ts';
import { createTarget } from '../src/app/targets.ts';
import { startWorker } from '../src/app/worker.ts';
import type { Run } from '../src/domain/model.ts';
import { compose } from '../src/entry/compose.ts';
import { insertMembers } from './bulk-members.ts';
import { forkWithAsk } from './child-ipc.ts';
import { currentRssMb, peakRssMb } from './rss.ts';
import { throwawayStore } from './throwaway-store.ts';

export const BRAZE_REQUESTS_PER_HOUR = 250_000;
const SANDBOX_CHILD = fileURLToPath(new URL('./sandbox-child.ts', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

export interface DeliveryOptions {
  readonly engine: 'sqlite' | 'postgres';
  readonly databaseUrl?: string;
  readonly members: number;
  /** The budget the sandbox enforces and the client is configured with (both the same). */
  readonly requestsPerHour: number;
  readonly log: (line: string) => void;
}

/**
 * Runs benchDelivery in a process of its own, so that its RSS figures are the executor's and not those of
 * whatever the calling process did before (seeding a 10M-member store, say). Progress goes to stderr.
 */
export function benchDeliveryInChild(opts: Omit<DeliveryOptions, 'log'>): DeliveryResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, JSON.stringify(opts)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`delivery bench failed with status ${r.status}: ${r.stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as DeliveryResult;
}

export interface DeliveryResult {
  readonly members: number;
  readonly requestsPerHour: number;
  readonly capPerSecond: number;
  readonly planSeconds: number;
  /** From the first to the last membership request the sandbox answered. */
  readonly sendSeconds: number;
  readonly membershipRequests: number;
  readonly byStatus: Record<string, number>;
  readonly rateLimited: number;
  readonly sustainedPerSecond: number;
  readonly fractionOfCap: number;
  /** Membership requests answered in each 10-second slice of the send phase (the last slice may be partial). */
  readonly perTenSeconds: number[];
  readonly run: { status: string; added: number; failed: number; requests: number; retries: number; batches: number };
  /** Mean time of one membership call as the executor sees it (limiter wait, HTTP, retries). */
  readonly meanCallMs: number;
  /** Mean time of one batch acknowledgement (the store transaction). */
  readonly meanAckMs: number;
  /** This process's CPU time (user + system, all threads) from the first call to the run's end, per batch. */
  readonly executorCpuMsPerBatch: number;
  /** The sandbox process's CPU time from its first membership answer to its last, per request. */
  readonly sandboxCpuMsPerBatch: number;
  /** Bulk-inserting the cohort's members (bench/bulk-members.ts), before the sync. */
  readonly insertSeconds: number;
  readonly sandboxIdentifiers: number;
  readonly lost: number;
  readonly unexpected: number;
  /** This process (store, executor, Braze client; the members' bulk insert included) until the run ended. */
  readonly peakRssDuringRunMb: number;
  readonly rssAtEndOfRunMb: number;
  readonly sandboxPeakRssMb: number;
}

/** The sandbox child process and a tiny request/response protocol over IPC. */
async function startSandboxChild(requestsPerHour: number) {
  const { child, ask } = forkWithAsk(SANDBOX_CHILD, [String(requestsPerHour)], { serialization: 'advanced' });
  const { url } = await ask<{ url: string }>({}, 0);
  return {
    url,
    workspace: async () => (await ask<{ key: string }>({ op: 'workspace' })).key,
    report: () =>
      ask<{
        answered: [number, number][];
        stats: { requests: number; byStatus: Record<string, number> };
        peakRssMb: number;
        cpuMs: number;
      }>({ op: 'report' }),
    /** The cohort's raw user ids, sorted, a page at a time. */
    ids: (key: string, cohortId: string, offset: number, limit: number) =>
      ask<{ userIds: string[]; total: number }>({ op: 'ids', key, cohortId, offset, limit }),
    close: async () => {
      if (child.exitCode !== null) return;
      await ask({ op: 'close' }).catch(() => undefined);
    },
  };
}

export async function benchDelivery(opts: DeliveryOptions): Promise<DeliveryResult> {
  const { log } = opts;
  const sandbox = await startSandboxChild(opts.requestsPerHour);
  const fresh = await throwawayStore(opts.engine, opts.databaseUrl, { prefix: 'bench-delivery' });
  const composed = await compose({
    store: fresh.location,
    secretKey: randomBytes(32),
    logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
    // The client's defaults otherwise (retry policy, timeouts, concurrency 4): what an operator runs.
    braze: {
      partnerSlug: 'cohort-sync',
      partnerKeys: { US: 'sandbox-partner-key' },
      requestsPerHour: opts.requestsPerHour,
    },
    settings: { allowedEndpoints: [sandbox.url] },
  });
  const { deps } = composed;
  const epochMs = () => performance.timeOrigin + performance.now();

  // Where a request's time goes: the Braze call (limiter wait + HTTP + retries) and the acknowledgement; and
  // this process's CPU time from the first call to the run's end (every thread: the event loop with SQLite's
  // connection, the checkpointer, libuv), which on a shared machine says more than the wall-clock rate.
  const timing = { callMs: 0, calls: 0, ackMs: 0, acks: 0 };
  let cpuAtFirstCall: NodeJS.CpuUsage | null = null;
  let cpuAtRunEnd: NodeJS.CpuUsage | null = null;
  const destination = deps.destinations.get('cohort_import');
  const call = destination.sendBatch.bind(destination);
  destination.sendBatch = async (...args) => {
    cpuAtFirstCall ??= process.cpuUsage();
    const t = performance.now();
    try {
      return await call(...args);
    } finally {
      timing.callMs += performance.now() - t;
      timing.calls += 1;
    }
  };
  const planning = composed.store.planning;
  const ackBatch = planning.ackBatch.bind(planning);
  planning.ackBatch = async (a) => {
    const t = performance.now();
    try {
      return await ackBatch(a);
    } finally {
      timing.ackMs += performance.now() - t;
      timing.acks += 1;
    }
  };

  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    const { project } = await createProject(
      deps,
      { generate: generateToken, hash: hashToken },
      { name: 'Delivery bench' },
    );
    await deps.store.projects.update(project.id, { brazeEnabled: true }, new Date().toISOString());
    const dataImportKey = await sandbox.workspace();
    const target = await createTarget(deps, project.id, {
      name: 'sandbox',
      endpoint: sandbox.url,
      dataImportKey,
      mapping: { type: 'user_id' },
    });
    const cohort = await createStaticCohort(deps, project.id, { name: 'Delivery bench' });
    log(
      `[delivery] ${opts.members} members, budget ${opts.requestsPerHour}/h (${(opts.requestsPerHour / 3600).toFixed(1)} req/s) on the sandbox and in the client`,
    );
    const seeded = performance.now();
    await insertMembers(composed.store.raw.db, opts.engine, project.id, cohort.id, opts.members, {
      prefix: 'dlv_',
      scrambled: true,
    });
    const insertSeconds = (performance.now() - seeded) / 1000;
    log(
      `[delivery] members inserted in ${insertSeconds.toFixed(1)} s (RSS ${currentRssMb().toFixed(0)} MB, peak ${peakRssMb().toFixed(0)} MB)`,
    );

    worker = await startWorker(deps, { owner: composed.owner });
    const startedAt = epochMs();
    const sync = await createSync(deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'one_time' });
    const runId = (await deps.store.runs.list(project.id, { syncId: sync.id }, 10, null)).items.at(-1)!.id;

    let run: Run | undefined;
    let lastReport = performance.now();
    for (;;) {
      run = await deps.store.runs.getById(runId);
      if (run && ['succeeded', 'failed', 'cancelled'].includes(run.status)) break;
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(
          `[delivery] ${run?.phase ?? '?'}: ${run?.counts.added ?? 0} identifiers acknowledged (RSS ${currentRssMb().toFixed(0)} MB)`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Read once the run ended (the poll above adds at most 250 ms of idle): not per acknowledgement, whose
    // own cost it would add to.
    cpuAtRunEnd = process.cpuUsage();
    // Before the check below, which reads every identifier the sandbox received.
    const peakRssDuringRunMb = peakRssMb();
    const rssAtEndOfRunMb = currentRssMb();
    const report = await sandbox.report();
    const answered = report.answered;
    const first = answered[0];
    const last = answered.at(-1);
    if (!first || !last)
      throw new Error(`no membership request reached the sandbox (run ${run.status}: ${run.error?.message ?? ''})`);
    const planSeconds = (first[0] - startedAt) / 1000;
    const sendSeconds = (last[0] - first[0]) / 1000;
    const byStatus: Record<string, number> = {};
    for (const [, status] of answered) byStatus[status] = (byStatus[status] ?? 0) + 1;
    const perTenSeconds: number[] = [];
    for (const [t] of answered) {
      const slot = Math.floor((t - first[0]) / 10_000);
      perTenSeconds[slot] = (perTenSeconds[slot] ?? 0) + 1;
    }
    // Intervals between answers: n answers span n - 1 intervals.
    const sustainedPerSecond = sendSeconds > 0 ? (answered.length - 1) / sendSeconds : 0;
    const capPerSecond = opts.requestsPerHour / 3600;
    const [cpu0, cpu1] = [cpuAtFirstCall as NodeJS.CpuUsage | null, cpuAtRunEnd as NodeJS.CpuUsage | null];
    const executorCpuMs = cpu0 && cpu1 ? (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000 : 0;

    // Nothing lost: the sandbox's raw identifiers for the cohort equal the cohort's user ids, one by one (both
    // sides read in sorted pages, so neither process holds all of them).
    const PAGE = 100_000;
    let held: string[] = [];
    let heldTotal = 0;
    let heldOffset = 0;
    let i = 0;
    const nextHeld = async () => {
      if (i < held.length) return held[i];
      if (heldOffset > 0 && heldOffset >= heldTotal) return undefined;
      const page = await sandbox.ids(dataImportKey, cohort.id, heldOffset, PAGE);
      held = page.userIds;
      heldTotal = page.total;
      heldOffset += held.length;
      i = 0;
      return held[0];
    };
    let lost = 0;
    let unexpected = 0;
    let after = '';
    for (;;) {
      const page = await composed.store.raw.db
        .selectFrom('profiles')
        .select('user_id')
        .where('project_id', '=', project.id)
        .where('user_id', '>', after)
        .orderBy('user_id')
        .limit(PAGE)
        .execute();
      for (const { user_id } of page) {
        const want = user_id!;
        let h = await nextHeld();
        while (h !== undefined && h < want) {
          unexpected += 1;
          i += 1;
          h = await nextHeld();
        }
        if (h === want) i += 1;
        else lost += 1;
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!.user_id!;
    }
    while ((await nextHeld()) !== undefined) {
      unexpected += 1;
      i += 1;
    }

    return {
      members: opts.members,
      requestsPerHour: opts.requestsPerHour,
      capPerSecond,
      planSeconds,
      sendSeconds,
      membershipRequests: answered.length,
      byStatus,
      rateLimited: byStatus['429'] ?? 0,
      sustainedPerSecond,
      fractionOfCap: sustainedPerSecond / capPerSecond,
      perTenSeconds: perTenSeconds.map((n) => n ?? 0),
      run: {
        status: run.status,
        added: run.counts.added,
        failed: run.counts.failed,
        requests: run.requests,
        retries: run.retries,
        batches: run.totalBatches,
      },
      meanCallMs: timing.calls > 0 ? timing.callMs / timing.calls : 0,
      meanAckMs: timing.acks > 0 ? timing.ackMs / timing.acks : 0,
      executorCpuMsPerBatch: timing.acks > 0 ? executorCpuMs / timing.acks : 0,
      sandboxCpuMsPerBatch: answered.length > 0 ? report.cpuMs / answered.length : 0,
      insertSeconds,
      sandboxIdentifiers: heldTotal,
      lost,
      unexpected,
      peakRssDuringRunMb,
      rssAtEndOfRunMb,
      sandboxPeakRssMb: report.peakRssMb,
    };
  } finally {
    await worker?.stop();
    await composed.store.close();
    await sandbox.close();
    await fresh.drop();
  }
}

// As a child of benchDeliveryInChild: options as JSON in argv, the result as one `RESULT {json}` line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as Omit<DeliveryOptions, 'log'>;
  const result = await benchDelivery({ ...opts, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}
