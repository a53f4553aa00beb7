// The heart (docs/design.md): resolve → plan → persist batches → send with bounded concurrency →
// acknowledge each batch with the state it changes → finish. All state lives in the store, guarded by a
// lease with a fence, so a process killed at any moment leaves work the next holder resumes from its first
// unacknowledged batch.
import { type PlannedBatch, type PlannedIdentifier, packBatches } from '../domain/batching.ts';
import { parseIdentifierKey } from '../domain/identifiers.ts';
import { brazeCohortName, type Run, type Sync } from '../domain/model.ts';
import {
  type Audience,
  DeliveryError,
  type DestinationDefinition,
  type DestinationTarget,
  type RequestLogEntry,
} from '../ports/destination.ts';
import type { StoredBatch, SyncPlanInput } from '../ports/store.ts';
import { type BehavioralDeps, evaluateCohorts } from './behavioral.ts';
import type { Uses } from './deps.ts';
import { beginPlan, type PlanInputs } from './incremental.ts';
import type { RunEventPublisher } from './run-events.ts';
import { decryptedKey } from './targets.ts';

/**
 * What running a sync touches: the lease and the runs, the plan, the sync's target and its mode's definition,
 * the behavioral cohorts evaluated before a full plan, and where finished runs are told.
 */
export type RunExecutorDeps = BehavioralDeps &
  Uses<'destinations' | 'secrets', 'audiences' | 'runs' | 'syncs' | 'targets' | 'planning'> & {
    readonly runEvents: RunEventPublisher;
  };

/** Where a run delivers: the mode's definition, the target's endpoint and key, and the audience. */
interface Delivery {
  readonly definition: DestinationDefinition;
  readonly target: DestinationTarget;
  readonly audience: Audience;
}

const PAGE = 1000;
const SEND_PAGE = 64;

class RunFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Lost the lease or asked to stop: leave the run for whoever holds the lease next. */
class Interrupted extends Error {}

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class RunExecutor {
  private readonly stopping = new AbortController();
  /** When this process last finished an incremental run, by Braze cohort (paces real-time bursts). */
  private readonly lastIncrementalEnd = new Map<string, number>();

  constructor(
    private readonly deps: RunExecutorDeps,
    private readonly owner: string,
  ) {}

  /** Stops sending; in-flight batches finish or are abandoned, and the next lease holder resumes. */
  stop(): void {
    this.stopping.abort();
  }

  /** Works through every unfinished run of a Braze cohort while holding its lease. */
  async processAudience(brazeCohortId: string): Promise<void> {
    const { audiences, runs } = this.deps.store;
    const ttl = this.deps.settings.leaseTtlMs;
    const fence = await audiences.acquireLease(brazeCohortId, this.owner, this.deps.clock.now(), ttl);
    if (fence === null) return; // someone else holds it; they re-check dirty before letting go
    const lease = new AbortController();
    const onStop = () => lease.abort();
    this.stopping.signal.addEventListener('abort', onStop);
    const heartbeat = setInterval(
      () => {
        audiences
          .renewLease(brazeCohortId, fence, this.deps.clock.now(), ttl)
          .then((held) => held || lease.abort())
          .catch(() => lease.abort());
      },
      Math.max(250, Math.floor(ttl / 3)),
    );
    try {
      for (;;) {
        if (lease.signal.aborted) return;
        await audiences.takeDirty(brazeCohortId, fence);
        const run = await runs.nextUnfinished(brazeCohortId);
        if (!run) {
          if (await audiences.releaseLease(brazeCohortId, fence)) return;
          continue; // a run was requested meanwhile
        }
        // In a burst of real-time changes, incremental runs start at most once per realtimeGatherMs: changes
        // made meanwhile fold into the waiting (still queued) run, so one request carries many of them.
        const gather =
          (this.lastIncrementalEnd.get(brazeCohortId) ?? -Infinity) +
          this.deps.settings.realtimeGatherMs -
          this.deps.clock.now().getTime();
        if (run.mode === 'incremental' && run.status === 'queued' && gather > 0) {
          await abortableSleep(gather, lease.signal);
          continue;
        }
        try {
          await this.execute(run, fence, lease.signal);
        } catch (error) {
          if (error instanceof Interrupted) {
            // Stopping on purpose: hand the lease back now rather than make the next worker wait out its TTL.
            if (this.stopping.signal.aborted) await audiences.abandonLease(brazeCohortId, fence).catch(() => undefined);
            return;
          }
          throw error;
        }
        if (run.mode === 'incremental') this.lastIncrementalEnd.set(brazeCohortId, this.deps.clock.now().getTime());
      }
    } finally {
      clearInterval(heartbeat);
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }

  private async execute(run: Run, fence: number, signal: AbortSignal): Promise<void> {
    const { store, clock, logger } = this.deps;
    const log = logger.child({ runId: run.id, syncId: run.syncId });
    const sync = await store.syncs.getById(run.syncId);
    if (!sync) {
      // A removal run deletes its sync only after every batch was sent: a crash after that leaves nothing to do.
      if (run.mode === 'remove_all' && run.phase === 'sending') return this.finish(run, undefined, 'succeeded');
      return this.finish(run, undefined, 'cancelled', {
        code: 'sync_deleted',
        message: 'the sync was deleted before this run started',
      });
    }
    if (sync.paused && run.mode !== 'remove_all' && run.status === 'queued') {
      return this.finish(run, sync, 'cancelled', {
        code: 'sync_paused',
        message: 'the sync was paused before this run started',
      });
    }
    try {
      const delivery = await this.deliveryOf(run, sync);
      if (run.status === 'queued' || run.phase === 'planning') {
        if (run.status === 'queued') await store.runs.start(run.id, clock.now().toISOString());
        else log.info({}, 'resuming a run that stopped while planning: planning again');
        await this.plan(run, sync, delivery.definition);
      } else {
        log.info({}, 'resuming a run from its first unacknowledged batch');
      }
      await this.ensureAudience(run, delivery, signal);
      await this.send(run, delivery, fence, signal);
      if (run.mode === 'remove_all') await store.syncs.delete(sync.projectId, sync.id);
      // Items that failed are not acknowledged, so a full run plans them again; an incremental run plans only
      // changes after the change mark, so the mark stays where it was until a run delivers everything.
      const finished = await store.runs.getById(run.id);
      if (!finished || finished.counts.failed === 0) {
        await store.planning.advanceChangeSeq(run.brazeCohortId, run.id);
        await store.planning.recordReconciled(run.brazeCohortId, run.id);
      }
      await this.finish(run, sync, 'succeeded');
    } catch (error) {
      if (error instanceof Interrupted || signal.aborted) throw new Interrupted();
      if (error instanceof RunFailure)
        return this.finish(run, sync, 'failed', { code: error.code, message: error.message });
      log.error({ err: error }, 'run failed unexpectedly');
      return this.finish(run, sync, 'failed', {
        code: 'internal',
        message: `the run stopped on an unexpected error: ${(error as Error).message}`,
      });
    }
  }

  private async deliveryOf(run: Run, sync: Sync): Promise<Delivery> {
    const { store } = this.deps;
    // Independent reads at once: they stand between a run's pickup and its start (docs/benchmarks.md, pickup).
    const secret = decryptedKey(this.deps, sync.targetId);
    secret.catch(() => undefined); // a missing target is reported below, not as an unhandled rejection
    const [target, audienceRow, cohort] = await Promise.all([
      store.targets.get(sync.projectId, sync.targetId),
      store.audiences.get(run.brazeCohortId),
      store.cohorts.get(sync.projectId, sync.cohortId),
    ]);
    if (!target) throw new RunFailure('target_missing', `the target of sync ${sync.id} no longer exists`);
    if (!audienceRow || !cohort)
      throw new RunFailure('cohort_missing', `the cohort of sync ${sync.id} no longer exists`);
    return {
      definition: this.deps.destinations.get(target.delivery),
      target: { endpoint: target.endpoint, secret: await secret },
      audience: {
        id: cohort.id,
        name: brazeCohortName(this.deps.settings.cohortNamePrefix, cohort),
        createdAt: audienceRow.createdAt,
        attribute: sync.attribute,
      },
    };
  }

  /** What the Braze cohort's syncs want: active ones ask for adds, paused ones protect from removal. */
  private async planInputs(run: Run, cohortId: string): Promise<PlanInputs> {
    const { syncs, targets, cohorts } = this.deps.store;
    const inputs: SyncPlanInput[] = [];
    const bySync: PlanInputs['syncs'][number][] = [];
    for (const s of await syncs.listByAudience(run.brazeCohortId)) {
      if (run.mode === 'remove_all' && s.id === run.syncId) continue;
      const target = await targets.get(s.projectId, s.targetId);
      if (!target) continue;
      inputs.push({ mapping: target.mapping, cohortId: s.cohortId, active: !s.paused });
      bySync.push({ syncId: s.id, mapping: target.mapping, active: !s.paused });
    }
    const cohort = await cohorts.get(run.projectId, cohortId);
    return { inputs, syncs: bySync, cohortSize: cohort?.size ?? 0 };
  }

  private async plan(run: Run, sync: Sync, definition: DestinationDefinition): Promise<void> {
    const { planning, runs } = this.deps.store;
    await planning.clearBatches(run.id);
    const planInputs = await this.planInputs(run, sync.cohortId);
    const { inputs } = planInputs;
    // A full run of a behavioral cohort plans from a fresh evaluation (and of the cohorts it reads).
    if (run.mode === 'full')
      await evaluateCohorts(this.deps, sync.projectId, [...new Set(inputs.map((i) => i.cohortId))], {
        withDependents: false,
        withDependencies: true,
      });
    // Runs plan only the members changed since the last acknowledged state when that is exact; a full
    // reconcile (asked for, due, or the syncs changed) re-reads every member (src/app/incremental.ts).
    const start = await beginPlan(planning, run, planInputs, {
      now: this.deps.clock.now(),
      fullReconcileHours: this.deps.settings.fullReconcileHours,
    });
    const incremental = start.fromChanges;
    if (!incremental) await planning.stageDesired(run.id, inputs);
    this.deps.logger.debug(
      { runId: run.id, plannedFrom: incremental ? 'changes' : 'cohort', reason: start.reason },
      'planning',
    );
    const own = inputs.filter((i) => i.cohortId === sync.cohortId);
    const skipReasons =
      run.mode === 'remove_all'
        ? {}
        : incremental
          ? await planning.recordSkipsFor(run.id, own, this.deps.settings.skipRowsKept)
          : await planning.recordSkips(run.id, own, this.deps.settings.skipRowsKept);
    const pages = (read: (after: string | null) => Promise<PlannedIdentifier[]>) =>
      (async function* () {
        let after: string | null = null;
        for (;;) {
          const page = await read(after);
          yield* page;
          if (page.length < PAGE) return;
          after = page[page.length - 1]!.key;
        }
      })();
    let seq = 0;
    for await (const batch of packBatches(
      pages((after) => planning.pageAdds(run.id, run.brazeCohortId, after, PAGE)),
      pages((after) =>
        incremental
          ? planning.pageRemovesFor(run.id, run.brazeCohortId, inputs, after, PAGE)
          : planning.pageRemoves(run.id, run.brazeCohortId, after, PAGE),
      ),
      definition.batch.max,
    )) {
      seq += 1;
      await planning.appendBatch(run.id, seq, batch);
    }
    await planning.clearStaged(run.id);
    if (incremental) await planning.clearChangedProfiles(run.id);
    const skipped = Object.values(skipReasons).reduce((a, b) => a + b, 0);
    await runs.setPlanned(run.id, { totalBatches: seq, skipped, skipReasons });
  }

  /** Some modes create or rename the audience before its first batch, and again on rename. */
  private async ensureAudience(run: Run, delivery: Delivery, signal: AbortSignal): Promise<void> {
    const { store } = this.deps;
    const { definition, target, audience } = delivery;
    if (!definition.ensureAudience) return;
    const row = await store.audiences.get(run.brazeCohortId);
    if (row?.namedAs === audience.name) return;
    try {
      const stats = await definition.ensureAudience(target, audience, { signal, onRequest: this.requestLogger(run) });
      await store.runs.addStats(run.id, { requests: stats.requests, retries: stats.retries });
    } catch (error) {
      await this.countFailedCall(run, error);
      throw this.asFailure(error, definition, 'naming the audience');
    }
    await store.audiences.markNamed(run.brazeCohortId, audience.name);
  }

  private async send(run: Run, delivery: Delivery, fence: number, signal: AbortSignal): Promise<void> {
    const { definition, target, audience } = delivery;
    const { planning } = this.deps.store;
    let buffer: StoredBatch[] = [];
    let lastSeq = 0;
    let exhausted = false;
    let loading: Promise<void> | null = null;
    let fatal: unknown = null;
    const local = new AbortController();
    const onAbort = () => local.abort();
    signal.addEventListener('abort', onAbort);

    const next = async (): Promise<StoredBatch | undefined> => {
      while (buffer.length === 0 && !exhausted) {
        loading ??= planning.pendingBatches(run.id, lastSeq, SEND_PAGE).then((page) => {
          buffer = page;
          if (page.length < SEND_PAGE) exhausted = true;
          if (page.length > 0) lastSeq = page[page.length - 1]!.seq;
          loading = null;
        });
        await loading;
      }
      return buffer.shift();
    };

    const sendOne = async (stored: StoredBatch) => {
      const change = {
        add: stored.batch.add.map((i) => parseIdentifierKey(i.key)),
        remove: stored.batch.remove.map((i) => parseIdentifierKey(i.key)),
      };
      try {
        const result = await definition.sendBatch(target, audience, change, {
          signal: local.signal,
          onRequest: this.requestLogger(run),
          // Real-time changes may use the budget headroom a large full run leaves free.
          lane: run.mode === 'incremental' ? 'realtime' : 'bulk',
        });
        // A 2xx may still fail some items: those are recorded with the reason and not acknowledged, so the
        // next run sends them again; the rest of the batch is delivered.
        const { delivered, failed } = splitByOutcome(stored.batch, result.outcomes);
        if (failed.length > 0)
          this.deps.logger.warn(
            { runId: run.id, seq: stored.seq, failed: failed.length, reason: failed[0]!.reason },
            'the destination failed some items of an acknowledged batch',
          );
        const held = await planning.ackBatch({
          runId: run.id,
          brazeCohortId: run.brazeCohortId,
          seq: stored.seq,
          fence,
          batch: delivered,
          now: this.deps.clock.now().toISOString(),
          requests: result.requests,
          retries: result.retries,
          note: failed.length > 0 ? `${failed.length} item(s) failed: ${failed[0]!.reason}` : null,
          failed,
        });
        if (!held) throw new Interrupted();
      } catch (error) {
        if (error instanceof DeliveryError && error.kind === 'bad_request') {
          // The destination refused this batch's content; the rest of the run can still go through.
          const held = await planning.failBatch({
            runId: run.id,
            seq: stored.seq,
            fence,
            brazeCohortId: run.brazeCohortId,
            error: error.message,
            batch: stored.batch,
            requests: error.stats.requests,
            retries: error.stats.retries,
          });
          if (!held) throw new Interrupted();
          return;
        }
        throw error;
      }
    };

    const worker = async () => {
      while (!local.signal.aborted) {
        const stored = await next();
        if (!stored) return;
        try {
          await sendOne(stored);
        } catch (error) {
          fatal ??= error;
          local.abort();
          return;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: this.deps.settings.concurrency }, worker));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (fatal instanceof Interrupted || signal.aborted) throw new Interrupted();
    if (fatal) {
      await this.countFailedCall(run, fatal);
      throw this.asFailure(fatal, definition, 'sending membership changes');
    }
  }

  /** Requests of a call that ended without an acknowledgement still count in the run's figures. */
  private async countFailedCall(run: Run, error: unknown): Promise<void> {
    if (error instanceof DeliveryError && error.stats.requests > 0) {
      await this.deps.store.runs.addStats(run.id, { requests: error.stats.requests, retries: error.stats.retries });
    }
  }

  private asFailure(error: unknown, definition: DestinationDefinition, doing: string): Error {
    if (error instanceof Interrupted) return error;
    if (error instanceof DeliveryError) {
      if (error.kind === 'aborted') return new Interrupted();
      return new RunFailure(definition.failureCode(error.kind), `${doing}: ${error.message}`);
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  private requestLogger(run: Run): (entry: RequestLogEntry) => void {
    return (entry) => {
      this.deps.store.runs
        .logRequest(run.id, entry.at, entry)
        .catch((error: unknown) =>
          this.deps.logger.warn({ err: error, runId: run.id }, 'could not record a request in the run log'),
        );
    };
  }

  private async finish(
    run: Run,
    sync: Sync | undefined,
    status: 'succeeded' | 'failed' | 'cancelled',
    error: { code: string; message: string } | null = null,
  ): Promise<void> {
    const finished = await this.deps.store.runs.finish(run.id, status, this.deps.clock.now().toISOString(), error);
    this.deps.logger.info(
      { runId: run.id, syncId: run.syncId, status, counts: finished.counts, error },
      `run ${status}`,
    );
    await this.deps.runEvents.publish({ run: finished, sync });
  }
}

/** Splits a batch by its items' outcomes (adds then removes, in order); a missing outcome counts as sent. */
function splitByOutcome(
  batch: PlannedBatch,
  outcomes: readonly { status: 'sent' | 'failed'; reason?: string }[],
): { delivered: PlannedBatch; failed: { key: string; profileId: number | null; reason: string }[] } {
  const delivered: PlannedBatch = { add: [], remove: [] };
  const failed: { key: string; profileId: number | null; reason: string }[] = [];
  const items = [...batch.add.map((i) => ['add', i] as const), ...batch.remove.map((i) => ['remove', i] as const)];
  items.forEach(([op, item], index) => {
    const outcome = outcomes[index];
    if (outcome?.status === 'failed')
      failed.push({ key: item.key, profileId: item.profileId, reason: outcome.reason ?? 'failed' });
    else delivered[op].push(item);
  });
  return { delivered, failed };
}
