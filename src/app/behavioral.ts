// Behavioral cohorts (docs/cohorts.md, docs/product.md §2): definitions validated on save, membership computed in
// the store by one compiled predicate (KyselyBehavioralRepo), and kept current three ways —
//   • in full: on save, on a definition change, and before a full run plans (scheduled syncs);
//   • for the profiles an ingested batch touched (the onIngested listener below), then for the cohorts that
//     reference the changed ones through inCohort;
//   • by the window sweeper: only profiles with an event that left a rolling window can leave (or join) by the
//     clock alone, and the sweeper re-decides exactly those.
// Every path applies its difference as ordinary member_changes, so real-time syncs carry it to Braze.
import {
  checkReferences,
  conditionHolds,
  type Definition,
  longestWindowMs as definitionWindowMs,
  dependentsOf,
  describeDefinition,
  type EventCondition,
  evaluationOrder,
  explainCondition,
  groupHolds,
  isEvent,
  isInCohort,
  isUserProperty,
  type KnownCohort,
  onlyJoinsWithEvents,
  parseDefinition,
  references,
  rollingWindowMs,
  type UserFacts,
  type UserPropertyCondition,
} from '../domain/behavioral.ts';
import type { Cohort } from '../domain/model.ts';
import type { EvaluationScope, MemberChangeResult } from '../ports/store.ts';
import { PendingTouches, type TouchedEvent } from './behavioral-touches.ts';
import type { MembershipChanged } from './cohorts.ts';
import type { Uses } from './deps.ts';
import { invalid, notFound } from './errors.ts';

/** Evaluating behavioral cohorts: their definitions, the evaluation in the store, membership, and the clock. */
export type BehavioralDeps = Uses<
  'clock' | 'logger' | 'settings',
  'behavioral' | 'cohorts' | 'membership' | 'projects'
>;

export interface BehavioralCohort extends KnownCohort {
  readonly cohort: Cohort;
  readonly definition: Definition;
}

/** Stored definitions were valid when saved; a window is never refused for growing older than retention. */
function storedDefinition(raw: unknown): Definition | null {
  const parsed = parseDefinition(raw, { retentionDays: Number.POSITIVE_INFINITY, nowMs: 0 });
  return parsed.ok ? parsed.definition : null;
}

/** The project's cohorts as references see them: behavioral ones with their definition, static ones without. */
export async function knownCohorts(
  deps: BehavioralDeps,
  projectId: string,
): Promise<Map<string, KnownCohort & { cohort: Cohort }>> {
  const out = new Map<string, KnownCohort & { cohort: Cohort }>();
  for (const c of await deps.store.cohorts.list(projectId))
    out.set(c.id, { id: c.id, cohort: c, definition: c.type === 'behavioral' ? storedDefinition(c.definition) : null });
  return out;
}

export async function behavioralCohorts(deps: BehavioralDeps, projectId: string): Promise<BehavioralCohort[]> {
  const all = [...(await knownCohorts(deps, projectId)).values()];
  return evaluationOrder(all.filter((c): c is BehavioralCohort => c.definition !== null));
}

/**
 * Validates a definition for saving into `selfId` (null: an estimate): 400 with the JSON path of every bad
 * node — unknown ops or fields, windows over retention, unknown cohorts, cycles through inCohort.
 */
export async function checkDefinition(
  deps: BehavioralDeps,
  projectId: string,
  selfId: string | null,
  raw: unknown,
): Promise<Definition> {
  const parsed = parseDefinition(raw, {
    retentionDays: deps.settings.eventRetentionDays,
    nowMs: deps.clock.now().getTime(),
  });
  if (!parsed.ok) throw invalid(parsed.problems);
  const known = await knownCohorts(deps, projectId);
  if (selfId) known.delete(selfId);
  const problems = checkReferences(selfId, parsed.definition, known);
  if (problems.length > 0) throw invalid(problems);
  return parsed.definition;
}

export interface EvaluationOutcome extends MemberChangeResult {
  readonly cohortId: string;
  readonly size: number;
}

async function evaluateOne(
  deps: BehavioralDeps,
  c: BehavioralCohort,
  scope: EvaluationScope,
  nowMs: number,
): Promise<EvaluationOutcome | null> {
  const r = await deps.store.behavioral.evaluate({
    projectId: c.cohort.projectId,
    cohortId: c.id,
    definition: c.definition,
    nowMs,
    retentionDays: deps.settings.eventRetentionDays,
    scope,
    history: scope.kind === 'all' ? 'evaluation' : 'change',
    ...(scope.kind === 'all' || scope.kind === 'aged' ? { sweptToMs: nowMs } : {}),
  });
  return r && { cohortId: c.id, ...r };
}

/**
 * Full evaluation of the given cohorts and of every behavioral cohort that references them, in reference
 * order (a cohort after the cohorts it reads). Returns the outcomes of the cohorts whose membership changed.
 */
export async function evaluateCohorts(
  deps: BehavioralDeps,
  projectId: string,
  cohortIds: readonly string[],
  opts: { withDependents?: boolean; withDependencies?: boolean } = {},
): Promise<EvaluationOutcome[]> {
  const all = await behavioralCohorts(deps, projectId);
  const chosen = new Set(cohortIds);
  if (opts.withDependencies) {
    // Before a run plans, the cohorts its cohort reads must be current too.
    const byId = new Map(all.map((c) => [c.id, c]));
    const visit = (id: string) => {
      const c = byId.get(id);
      if (!c) return;
      for (const r of references(c.definition))
        if (!chosen.has(r.cohortId)) {
          chosen.add(r.cohortId);
          visit(r.cohortId);
        }
    };
    for (const id of cohortIds) visit(id);
  }
  if (opts.withDependents !== false)
    for (const id of [...chosen]) for (const d of dependentsOf(id, all)) chosen.add(d.id);
  const changed: EvaluationOutcome[] = [];
  for (const c of all) {
    if (!chosen.has(c.id)) continue;
    const r = await evaluateOne(deps, c, { kind: 'all' }, deps.clock.now().getTime());
    if (r && r.added + r.removed > 0) changed.push(r);
  }
  return changed;
}

/**
 * The event and user-property conditions a cohort's membership depends on: its own and, through inCohort,
 * those of every cohort it reads (each cohort visited once, so a shared reference counts once).
 */
function conditionsReadBy(c: BehavioralCohort, byId: ReadonlyMap<string, BehavioralCohort>) {
  const out: (EventCondition | UserPropertyCondition)[] = [];
  const seen = new Set<string>();
  const visit = (x: BehavioralCohort) => {
    if (seen.has(x.id)) return;
    seen.add(x.id);
    for (const g of x.definition.all)
      for (const cond of g.any) {
        if (!isInCohort(cond)) out.push(cond);
        else {
          const dep = byId.get(cond.inCohort);
          if (dep) visit(dep);
        }
      }
  };
  visit(c);
  return out;
}

/**
 * One real-time pass: every behavioral cohort of the project (reference order, so a cohort reading another
 * through inCohort sees its fresh membership) re-decides the touched profiles its conditions — or those of
 * the cohorts it reads — can count (PendingTouches.scopeFor), all in one transaction. If a touched profile no
 * longer exists (merged away, its events now another profile's), every cohort re-decides every touched one.
 */
export async function evaluateTouches(
  deps: BehavioralDeps,
  projectId: string,
  touches: PendingTouches,
): Promise<EvaluationOutcome[]> {
  const touched = touches.all();
  if (touched.size === 0) return [];
  const nowMs = deps.clock.now().getTime();
  const all = await behavioralCohorts(deps, projectId);
  if (all.length === 0) return [];
  if ((await deps.store.behavioral.existingProfiles([...touched])) < touched.size) touches.touchAll(touched);
  const byId = new Map(all.map((c) => [c.id, c]));
  const beyondEvents = touches.beyondEvents();
  const definitionOf = (id: string) => byId.get(id)?.definition;
  const passes = all.flatMap((c) => {
    const ids = touches.scopeFor(conditionsReadBy(c, byId));
    if (ids.size === 0) return [];
    // Where new events can only add members, the members among the profiles touched by events alone keep
    // their membership: the pass decides only the others (most of a busy cohort's touched profiles are members).
    if (!onlyJoinsWithEvents(c.definition, definitionOf)) return [{ cohort: c, scope: { ids: [...ids] } }];
    const decided: number[] = [];
    const joinOnly: number[] = [];
    for (const id of ids) (beyondEvents.has(id) ? decided : joinOnly).push(id);
    return [{ cohort: c, scope: { ids: decided, joinOnly } }];
  });
  const results = await deps.store.behavioral.evaluateMany(
    passes.map(({ cohort, scope }) => ({
      projectId,
      cohortId: cohort.id,
      definition: cohort.definition,
      nowMs,
      retentionDays: deps.settings.eventRetentionDays,
      scope: { kind: 'profiles' as const, ...scope },
      history: 'change' as const,
    })),
  );
  const changed: EvaluationOutcome[] = [];
  results.forEach((r, i) => {
    if (r && r.added + r.removed > 0) changed.push({ cohortId: passes[i]!.cohort.id, ...r });
  });
  return changed;
}

/** The rolling windows a cohort's membership depends on: its own and those of the cohorts it reads. */
function windowsOf(c: BehavioralCohort, all: readonly BehavioralCohort[], retentionDays: number) {
  const out = new Map<string, { event: string; windowMs: number }>();
  for (const cond of conditionsReadBy(c, new Map(all.map((x) => [x.id, x])))) {
    if (!isEvent(cond)) continue;
    const w = rollingWindowMs(cond, retentionDays);
    if (w !== null) out.set(`${cond.event}\u0000${w}`, { event: cond.event, windowMs: w });
  }
  return [...out.values()];
}

/**
 * One sweep of a project's rolling windows up to now: each cohort re-decides the profiles with an event that
 * left one of its windows (or a window of a cohort it reads) since its last sweep. A cohort swept for the
 * first time is evaluated in full.
 */
export async function sweepProject(deps: BehavioralDeps, projectId: string): Promise<EvaluationOutcome[]> {
  const all = await behavioralCohorts(deps, projectId);
  const changed: EvaluationOutcome[] = [];
  for (const c of all) {
    const nowMs = deps.clock.now().getTime();
    const from = await deps.store.behavioral.sweptTo(c.id);
    const windows = windowsOf(c, all, deps.settings.eventRetentionDays);
    let scope: EvaluationScope;
    if (from === null) scope = { kind: 'all' };
    else if (windows.length === 0 || from >= nowMs) continue;
    else scope = { kind: 'aged', fromMs: from, toMs: nowMs, windows };
    const r = await evaluateOne(deps, c, scope, nowMs);
    if (r && r.added + r.removed > 0) changed.push(r);
  }
  return changed;
}

/** How far back the project's saved definitions read events now (the retention pruner keeps at least this). */
export async function longestWindowMs(deps: BehavioralDeps, projectId: string): Promise<number> {
  const nowMs = deps.clock.now().getTime();
  let longest = 0;
  for (const c of await behavioralCohorts(deps, projectId))
    longest = Math.max(longest, definitionWindowMs(c.definition, nowMs, deps.settings.eventRetentionDays));
  return longest;
}

/** The size a definition would have now, without saving it (the rules builder's live count). */
export async function estimateDefinition(
  deps: BehavioralDeps,
  projectId: string,
  raw: unknown,
): Promise<{ size: number; summary: string }> {
  const definition = await checkDefinition(deps, projectId, null, raw);
  const names = await cohortNames(deps, projectId);
  const size = await deps.store.behavioral.estimate(
    projectId,
    definition,
    deps.clock.now().getTime(),
    deps.settings.eventRetentionDays,
  );
  return { size, summary: describeDefinition(definition, names) };
}

async function cohortNames(deps: BehavioralDeps, projectId: string): Promise<(id: string) => string> {
  const names = new Map((await deps.store.cohorts.list(projectId)).map((c) => [c.id, c.name]));
  return (id) => names.get(id) ?? id;
}

/** The plain-English reading of a stored definition (null for static cohorts). */
export function summaryOf(cohort: Cohort, names: (id: string) => string = (id) => id): string | null {
  if (cohort.type !== 'behavioral') return null;
  const d = storedDefinition(cohort.definition);
  return d ? describeDefinition(d, names) : null;
}

export interface ExplainedCondition {
  readonly holds: boolean;
  readonly text: string;
}

export interface BehavioralExplanation {
  readonly cohortId: string;
  readonly summary: string;
  /** Stored membership (what syncs send). */
  readonly member: boolean;
  /** Whether the definition holds for the user right now (differs from member only until the next evaluation). */
  readonly matches: boolean;
  readonly groups: readonly {
    readonly not: boolean;
    readonly holds: boolean;
    readonly conditions: readonly ExplainedCondition[];
  }[];
}

const STATIC_SUMMARY = 'A static cohort: its members are set by CSV upload or the members API';

/** For one user: which conditions of the definition they meet and which they don't, and why. */
export async function explainBehavioral(
  deps: BehavioralDeps,
  projectId: string,
  cohortId: string,
  by: { userId?: string; deviceId?: string },
): Promise<BehavioralExplanation> {
  const cohort = await deps.store.cohorts.get(projectId, cohortId);
  if (!cohort) throw notFound('cohort', cohortId);
  if (by.userId === undefined && by.deviceId === undefined)
    throw invalid([{ path: 'user_id', message: 'give user_id or device_id' }]);
  const profile = await deps.store.membership.findProfile(projectId, by);
  if (!profile) throw notFound('user', by.userId ?? by.deviceId ?? '');
  const definition = cohort.type === 'behavioral' ? storedDefinition(cohort.definition) : null;
  if (!definition) {
    const member = await deps.store.membership.isMember(cohortId, profile.id);
    return { cohortId, summary: STATIC_SUMMARY, member, matches: member, groups: [] };
  }
  const counts = await deps.store.behavioral.conditionCounts(
    profile.id,
    definition,
    deps.clock.now().getTime(),
    deps.settings.eventRetentionDays,
  );
  const memberships = new Map<string, boolean>();
  for (const r of references(definition))
    memberships.set(r.cohortId, await deps.store.membership.isMember(r.cohortId, profile.id));
  const facts: UserFacts = {
    eventCount: (gi, ci) => counts[gi]?.[ci] ?? 0,
    properties: profile.properties,
    inCohort: (id) => memberships.get(id) ?? false,
  };
  const names = await cohortNames(deps, projectId);
  const groups = definition.all.map((g, gi) => ({
    not: g.not,
    holds: groupHolds(g, gi, facts),
    conditions: g.any.map((c, ci) => {
      return {
        holds: conditionHolds(c, gi, ci, facts),
        text: explainCondition(
          c,
          isEvent(c)
            ? { count: facts.eventCount(gi, ci) }
            : isUserProperty(c)
              ? { property: profile.properties[c.userProperty] }
              : { member: facts.inCohort(c.inCohort) },
          names,
        ),
      };
    }),
  }));
  return {
    cohortId,
    summary: describeDefinition(definition, names),
    member: await deps.store.membership.isMember(cohortId, profile.id),
    matches: groups.every((g) => g.holds),
    groups,
  };
}

/** Size history points in [from, to] (default: the last 30 days), oldest first. */
export async function sizeHistory(
  deps: BehavioralDeps,
  projectId: string,
  cohortId: string,
  range: { from?: string | undefined; to?: string | undefined },
): Promise<{ points: { at: string; size: number }[] }> {
  const cohort = await deps.store.cohorts.get(projectId, cohortId);
  if (!cohort) throw notFound('cohort', cohortId);
  const parse = (v: string | undefined, field: string, fallback: number) => {
    if (v === undefined || v === '') return fallback;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw invalid([{ path: field, message: 'must be an ISO 8601 timestamp' }]);
    return t;
  };
  const toMs = parse(range.to, 'to', deps.clock.now().getTime());
  const fromMs = parse(range.from, 'from', toMs - 30 * 86_400_000);
  if (fromMs > toMs) throw invalid([{ path: 'from', message: 'from must not be after to' }]);
  const points = await deps.store.behavioral.sizeHistory(cohortId, fromMs, toMs, SIZE_HISTORY_LIMIT);
  return { points: points.map((p) => ({ at: new Date(p.atMs).toISOString(), size: p.size })) };
}

export const SIZE_HISTORY_LIMIT = 10_000;

/** What an ingestion listener is told (IngestedBatch, src/app/ingest-observers.ts); the details are optional. */
export interface TouchReport {
  readonly projectId: string;
  readonly profileIds: readonly number[];
  /** Event types stored; absent: unknown, so every cohort re-decides the profiles. */
  readonly eventTypes?: readonly string[];
  readonly propertiesChanged?: boolean;
  /** The stored events by profile: narrows each cohort's scope to the profiles its conditions can count. */
  readonly events?: readonly TouchedEvent[];
  /** Profiles whose user properties changed (with `events`). */
  readonly propertyProfiles?: readonly number[];
  /** Profiles on either side of a link or merge (with `events`): every cohort re-decides them. */
  readonly identityProfiles?: readonly number[];
}

/**
 * The real-time side, one per process: the onIngested listener records what each batch touched per project
 * (PendingTouches) and returns; a pass per project starts behavioralGatherMs after the first touch, so the
 * requests of that interval share one pass — one statement set per cohort over the touched profiles, not
 * one per request — and requests that arrive during a pass fold into the next. A timer sweeps rolling
 * windows. Membership changes are announced through `notify` (real-time syncs, src/app/realtime.ts).
 */
export class BehavioralEvaluator {
  private readonly pending = new Map<string, PendingTouches>();
  private readonly draining = new Map<string, Promise<void>>();
  /** Ends the current gathering wait of every project (idle() and stop() do not wait out the interval). */
  private flushGather: (() => void) | null = null;
  private gathering: Promise<void> | null = null;
  /** While above 0 (idle() waiting), passes start without gathering. */
  private flushing = 0;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly deps: BehavioralDeps,
    private readonly notify: MembershipChanged,
  ) {}

  /** The onIngested listener: records the batch and returns at once; its pass follows within the interval. */
  readonly onIngested = (batch: TouchReport): void => {
    if (batch.profileIds.length === 0) return;
    let touches = this.pending.get(batch.projectId);
    if (!touches) {
      touches = new PendingTouches();
      this.pending.set(batch.projectId, touches);
    }
    if (batch.events) {
      touches.touchEvents(batch.events);
      touches.touchProperties(batch.propertyProfiles ?? (batch.propertiesChanged ? batch.profileIds : []));
      touches.touchAll(batch.identityProfiles ?? []);
    } else if (batch.eventTypes) {
      touches.touchTypes(batch.profileIds, batch.eventTypes);
      if (batch.propertiesChanged ?? true) touches.touchProperties(batch.profileIds);
    } else touches.touchAll(batch.profileIds);
    if (!this.draining.has(batch.projectId)) this.draining.set(batch.projectId, this.drain(batch.projectId));
  };

  /** Resolves after behavioralGatherMs, or at once when flushed. */
  private gather(): Promise<void> {
    const ms = this.deps.settings.behavioralGatherMs;
    if (ms <= 0 || this.flushing > 0) return Promise.resolve();
    this.gathering ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.gathering = null;
        this.flushGather = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.flushGather = done;
    });
    return this.gathering;
  }

  private async drain(projectId: string): Promise<void> {
    try {
      while ((this.pending.get(projectId)?.size ?? 0) > 0) {
        await this.gather();
        const touches = this.pending.get(projectId);
        if (!touches) continue;
        this.pending.delete(projectId);
        try {
          const started = performance.now();
          const changed = await evaluateTouches(this.deps, projectId, touches);
          const evaluatedMs = performance.now() - started;
          await this.announce(projectId, changed);
          this.deps.logger.debug(
            {
              projectId,
              profiles: touches.all().size,
              changedCohorts: changed.length,
              evaluatedMs: Math.round(evaluatedMs),
              announcedMs: Math.round(performance.now() - started - evaluatedMs),
            },
            'real-time behavioral pass',
          );
        } catch (err) {
          // The next full evaluation (every scheduled or reconciliation run plans from one) repairs what is missed.
          this.deps.logger.error({ err, projectId }, 'real-time behavioral evaluation failed');
        }
      }
    } finally {
      this.draining.delete(projectId);
    }
  }

  private async announce(projectId: string, changed: readonly EvaluationOutcome[]): Promise<void> {
    for (const c of changed) {
      try {
        await this.notify(projectId, c.cohortId);
      } catch (err) {
        this.deps.logger.warn({ err, projectId, cohortId: c.cohortId }, 'could not announce a membership change');
      }
    }
  }

  /**
   * A cohort's membership changed outside evaluation (the members API of a static cohort): cohorts that
   * read it through inCohort are evaluated again.
   */
  async cohortChanged(projectId: string, cohortId: string): Promise<void> {
    const all = await behavioralCohorts(this.deps, projectId);
    const dependents = dependentsOf(cohortId, all);
    if (dependents.length === 0) return;
    await this.announce(
      projectId,
      await evaluateCohorts(
        this.deps,
        projectId,
        dependents.map((d) => d.id),
      ),
    );
  }

  /** Sweeps every project's rolling windows once. */
  async sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        for (const project of await this.deps.store.projects.list()) {
          try {
            await this.announce(project.id, await sweepProject(this.deps, project.id));
          } catch (err) {
            this.deps.logger.error({ err, projectId: project.id }, 'sweeping behavioral windows failed');
          }
        }
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }

  start(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => void this.sweep(), this.deps.settings.behavioralSweepMs);
    this.sweeper.unref?.();
  }

  /** Resolves when every queued evaluation (and a running sweep) is done. */
  async idle(): Promise<void> {
    this.flushing += 1;
    try {
      while (this.draining.size > 0 || this.sweeping) {
        this.flushGather?.();
        await Promise.all([...this.draining.values(), this.sweeping]);
      }
    } finally {
      this.flushing -= 1;
    }
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.idle();
  }
}
