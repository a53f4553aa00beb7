// What ingested batches changed since the last real-time pass, kept per project by the BehavioralEvaluator
// (src/app/behavioral.ts) and read once per pass: for each cohort, the profiles whose membership may have
// moved. A profile's membership is a function of its events that match a condition (type and property
// filters; windows are the sweeper's), its user properties, the cohorts it reads and the clock — so a
// cohort need only re-decide the profiles with a new event that one of its conditions (or a condition of a
// cohort it reads) can count, or with changed properties when it reads them. Everything else is exact to
// skip. What is not known precisely (merges, listeners told only event types) falls back to "every cohort".
import { type EventCondition, propertyPasses, type UserPropertyCondition } from '../domain/behavioral.ts';

/** An event stored for a profile, as far as relevance needs it. */
export interface TouchedEvent {
  readonly profileId: number;
  readonly eventType: string;
  readonly eventProperties: Readonly<Record<string, unknown>>;
}

/** Property objects kept per (event type, profile) before that profile counts as touched by any such event. */
const PROPERTIES_PER_PROFILE = 8;
/** Property objects kept in all before every touched profile counts as touched by any event (bounded memory). */
const PROPERTIES_KEPT = 100_000;

export class PendingTouches {
  /** Profiles every cohort re-decides. */
  private readonly everything = new Set<number>();
  /** Profiles whose user properties changed. */
  private readonly properties = new Set<number>();
  /** event type → profile → the property objects of its new events of that type (null: any, not kept). */
  private readonly events = new Map<string, Map<number, Record<string, unknown>[] | null>>();
  private kept = 0;

  get size(): number {
    return this.everything.size + this.properties.size + this.events.size;
  }

  /** Profiles every cohort must re-decide (merged, linked, or changed in ways not described). */
  touchAll(ids: Iterable<number>): void {
    for (const id of ids) this.everything.add(id);
  }

  touchProperties(ids: Iterable<number>): void {
    for (const id of ids) this.properties.add(id);
  }

  /** Profiles with new events of these types, properties unknown (any condition on the type may count them). */
  touchTypes(ids: readonly number[], types: Iterable<string>): void {
    for (const t of types) for (const id of ids) this.byType(t).set(id, null);
  }

  touchEvents(events: Iterable<TouchedEvent>): void {
    for (const e of events) {
      const byProfile = this.byType(e.eventType);
      const list = byProfile.get(e.profileId);
      if (list === null) continue;
      if (list === undefined) byProfile.set(e.profileId, [e.eventProperties as Record<string, unknown>]);
      else if (list.length >= PROPERTIES_PER_PROFILE || this.kept >= PROPERTIES_KEPT) byProfile.set(e.profileId, null);
      else list.push(e.eventProperties as Record<string, unknown>);
      this.kept += 1;
    }
  }

  private byType(type: string): Map<number, Record<string, unknown>[] | null> {
    let m = this.events.get(type);
    if (!m) {
      m = new Map();
      this.events.set(type, m);
    }
    return m;
  }

  /** Every profile touched in any way. */
  all(): Set<number> {
    const out = new Set<number>([...this.everything, ...this.properties]);
    for (const m of this.events.values()) for (const id of m.keys()) out.add(id);
    return out;
  }

  /** Profiles touched in other ways than by new events (merged, linked, changed properties). */
  beyondEvents(): Set<number> {
    return new Set<number>([...this.everything, ...this.properties]);
  }

  /** The profiles a cohort reading these conditions must re-decide (its own and, through inCohort, others'). */
  scopeFor(reads: readonly (EventCondition | UserPropertyCondition)[]): Set<number> {
    const out = new Set(this.everything);
    for (const cond of reads) {
      if (!('event' in cond)) {
        for (const id of this.properties) out.add(id);
        continue;
      }
      const byProfile = this.events.get(cond.event);
      if (!byProfile) continue;
      for (const [id, list] of byProfile) {
        if (out.has(id)) continue;
        if (list === null || list.some((props) => cond.where.every((f) => propertyPasses(props[f.property], f))))
          out.add(id);
      }
    }
    return out;
  }
}
