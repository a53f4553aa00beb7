// Behavioral cohort definitions (docs/cohorts.md): an AND of OR-groups of conditions, a group optionally
// negated. This module is the one reading of a definition — parsing with the JSON path of every bad node,
// the effective window of each event condition, the meaning of every property operator (which the SQL
// compiler in src/adapters/store/behavioral-sql.ts mirrors), and the plain-English text shown to people.

export const COUNT_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
export const PROPERTY_OPS = [...COUNT_OPS, 'contains', 'set', 'not_set', 'in'] as const;
export const WINDOW_UNITS = ['minute', 'hour', 'day'] as const;

export type CountOp = (typeof COUNT_OPS)[number];
export type PropertyOp = (typeof PROPERTY_OPS)[number];
export type WindowUnit = (typeof WINDOW_UNITS)[number];
export type Scalar = string | number | boolean;

export const UNIT_MS: Readonly<Record<WindowUnit, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export type Window = { readonly last: number; readonly unit: WindowUnit } | { readonly since: string };

export interface PropertyTest {
  readonly op: PropertyOp;
  /** Absent for set / not_set; an array for in; a scalar otherwise. */
  readonly value?: Scalar | readonly Scalar[];
}

export interface PropertyFilter extends PropertyTest {
  readonly property: string;
}

export interface EventCondition {
  readonly event: string;
  readonly where: readonly PropertyFilter[];
  readonly count: { readonly op: CountOp; readonly value: number };
  /** null: every stored event (the retention period, a rolling window of EVENT_RETENTION_DAYS). */
  readonly within: Window | null;
}

export interface UserPropertyCondition extends PropertyTest {
  readonly userProperty: string;
}

export interface InCohortCondition {
  readonly inCohort: string;
}

export type Condition = EventCondition | UserPropertyCondition | InCohortCondition;

export interface Group {
  readonly not: boolean;
  readonly any: readonly Condition[];
}

export interface Definition {
  readonly all: readonly Group[];
}

export interface Problem {
  readonly path: string;
  readonly message: string;
}

export const isEvent = (c: Condition): c is EventCondition => 'event' in c;
export const isUserProperty = (c: Condition): c is UserPropertyCondition => 'userProperty' in c;
export const isInCohort = (c: Condition): c is InCohortCondition => 'inCohort' in c;

export const LIMITS = { groups: 20, conditions: 20, filters: 20, inValues: 1000, name: 1024, property: 200 };

// ---------------------------------------------------------------------------------------------- parsing

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

function unknownKeys(node: Record<string, unknown>, allowed: readonly string[], path: string, out: Problem[]) {
  for (const key of Object.keys(node))
    if (!allowed.includes(key)) out.push({ path: `${path}.${key}`, message: `unknown field "${key}"` });
}

function checkName(v: unknown, path: string, what: string, max: number, out: Problem[]): v is string {
  if (typeof v !== 'string' || v.length === 0) {
    out.push({ path, message: `${what} must be a non-empty string` });
    return false;
  }
  if (v.length > max) {
    out.push({ path, message: `${what} is longer than ${max} characters` });
    return false;
  }
  return true;
}

function checkPropertyName(v: unknown, path: string, out: Problem[]): v is string {
  if (!checkName(v, path, 'a property name', LIMITS.property, out)) return false;
  // Names become JSON paths in SQL; a quote or backslash cannot be expressed the same way on both engines.
  if (/["\\\u0000-\u001f]/.test(v)) {
    out.push({ path, message: 'a property name cannot contain quotes, backslashes or control characters' });
    return false;
  }
  return true;
}

function parseTest(node: Record<string, unknown>, path: string, out: Problem[]): PropertyTest | null {
  const op = node.op;
  if (typeof op !== 'string' || !(PROPERTY_OPS as readonly string[]).includes(op)) {
    out.push({ path: `${path}.op`, message: `unknown op ${JSON.stringify(op)}; one of ${PROPERTY_OPS.join(', ')}` });
    return null;
  }
  const value = node.value;
  switch (op as PropertyOp) {
    case 'set':
    case 'not_set':
      if (value !== undefined) out.push({ path: `${path}.value`, message: `op ${op} takes no value` });
      return { op: op as PropertyOp };
    case 'in':
      if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.inValues) {
        out.push({ path: `${path}.value`, message: `op in needs a list of 1 to ${LIMITS.inValues} values` });
        return null;
      }
      value.forEach((v, i) => {
        if (!isScalar(v)) out.push({ path: `${path}.value[${i}]`, message: 'must be a string, number or boolean' });
      });
      return value.every(isScalar) ? { op: 'in', value: value as Scalar[] } : null;
    case 'contains':
      if (typeof value !== 'string') {
        out.push({ path: `${path}.value`, message: 'op contains needs a string value' });
        return null;
      }
      return { op: 'contains', value };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
        out.push({ path: `${path}.value`, message: `op ${op} needs a number or a string value` });
        return null;
      }
      return { op: op as PropertyOp, value };
    default:
      if (!isScalar(value)) {
        out.push({ path: `${path}.value`, message: `op ${op} needs a string, number or boolean value` });
        return null;
      }
      return { op: op as PropertyOp, value };
  }
}

export interface ParseContext {
  /** EVENT_RETENTION_DAYS: no window may reach further back than the events kept. */
  readonly retentionDays: number;
  readonly nowMs: number;
}

function parseWindow(v: unknown, path: string, ctx: ParseContext, out: Problem[]): Window | null | undefined {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) {
    out.push({ path, message: 'within must be {last, unit} or {since}' });
    return undefined;
  }
  const retentionMs = ctx.retentionDays * UNIT_MS.day;
  if ('since' in v) {
    unknownKeys(v, ['since'], path, out);
    const since = v.since;
    const at = typeof since === 'string' ? Date.parse(since) : Number.NaN;
    if (Number.isNaN(at)) {
      out.push({ path: `${path}.since`, message: 'since must be an ISO 8601 date or timestamp' });
      return undefined;
    }
    if (ctx.nowMs - at > retentionMs) {
      out.push({
        path: `${path}.since`,
        message: `since reaches back further than the ${ctx.retentionDays} days events are kept (EVENT_RETENTION_DAYS)`,
      });
      return undefined;
    }
    return { since: since as string };
  }
  unknownKeys(v, ['last', 'unit'], path, out);
  const { last, unit } = v;
  let ok = true;
  if (typeof last !== 'number' || !Number.isInteger(last) || last < 1) {
    out.push({ path: `${path}.last`, message: 'last must be a positive integer' });
    ok = false;
  }
  if (typeof unit !== 'string' || !(WINDOW_UNITS as readonly string[]).includes(unit)) {
    out.push({
      path: `${path}.unit`,
      message: `unknown unit ${JSON.stringify(unit)}; one of ${WINDOW_UNITS.join(', ')}`,
    });
    ok = false;
  }
  if (!ok) return undefined;
  if ((last as number) * UNIT_MS[unit as WindowUnit] > retentionMs) {
    out.push({
      path,
      message: `the window is longer than the ${ctx.retentionDays} days events are kept (EVENT_RETENTION_DAYS)`,
    });
    return undefined;
  }
  return { last: last as number, unit: unit as WindowUnit };
}

function parseEvent(node: Record<string, unknown>, path: string, ctx: ParseContext, out: Problem[]) {
  unknownKeys(node, ['event', 'where', 'count', 'within'], path, out);
  const before = out.length;
  checkName(node.event, `${path}.event`, 'an event type', LIMITS.name, out);
  const where: PropertyFilter[] = [];
  if (node.where !== undefined) {
    if (!Array.isArray(node.where) || node.where.length > LIMITS.filters)
      out.push({ path: `${path}.where`, message: `where must be a list of at most ${LIMITS.filters} filters` });
    else
      node.where.forEach((f, i) => {
        const at = `${path}.where[${i}]`;
        if (!isObject(f)) return out.push({ path: at, message: 'a filter must be {property, op, value}' });
        unknownKeys(f, ['property', 'op', 'value'], at, out);
        const named = checkPropertyName(f.property, `${at}.property`, out);
        const test = parseTest(f, at, out);
        if (named && test) where.push({ property: f.property as string, ...test });
      });
  }
  let count: EventCondition['count'] = { op: 'gte', value: 1 };
  if (node.count !== undefined) {
    const c = node.count;
    if (!isObject(c)) out.push({ path: `${path}.count`, message: 'count must be {op, value}' });
    else {
      unknownKeys(c, ['op', 'value'], `${path}.count`, out);
      const okOp = typeof c.op === 'string' && (COUNT_OPS as readonly string[]).includes(c.op);
      if (!okOp)
        out.push({
          path: `${path}.count.op`,
          message: `unknown op ${JSON.stringify(c.op)}; one of ${COUNT_OPS.join(', ')}`,
        });
      const okValue = typeof c.value === 'number' && Number.isInteger(c.value) && c.value >= 0;
      if (!okValue) out.push({ path: `${path}.count.value`, message: 'count value must be a non-negative integer' });
      if (okOp && okValue) count = { op: c.op as CountOp, value: c.value as number };
    }
  }
  const within = parseWindow(node.within, `${path}.within`, ctx, out);
  if (out.length > before || within === undefined) return null;
  return { event: node.event as string, where, count, within } satisfies EventCondition;
}

function parseCondition(v: unknown, path: string, ctx: ParseContext, out: Problem[]): Condition | null {
  if (!isObject(v)) {
    out.push({ path, message: 'a condition must be an object with event, userProperty or inCohort' });
    return null;
  }
  const kinds = ['event', 'userProperty', 'inCohort'].filter((k) => k in v);
  if (kinds.length !== 1) {
    out.push({
      path,
      message:
        kinds.length === 0
          ? 'a condition needs one of event, userProperty or inCohort'
          : `a condition has exactly one of event, userProperty or inCohort, not ${kinds.join(' and ')}`,
    });
    return null;
  }
  if (kinds[0] === 'event') return parseEvent(v, path, ctx, out);
  if (kinds[0] === 'inCohort') {
    unknownKeys(v, ['inCohort'], path, out);
    return checkName(v.inCohort, `${path}.inCohort`, 'a cohort id', 200, out) ? { inCohort: v.inCohort } : null;
  }
  unknownKeys(v, ['userProperty', 'op', 'value'], path, out);
  const named = checkPropertyName(v.userProperty, `${path}.userProperty`, out);
  const test = parseTest(v, path, out);
  return named && test ? { userProperty: v.userProperty as string, ...test } : null;
}

/**
 * Reads a definition, reporting every bad node by its JSON path under `base` (e.g. `definition.all[0].any[1].count.op`).
 * References to other cohorts are checked separately (checkReferences), since that needs the store.
 */
export function parseDefinition(
  raw: unknown,
  ctx: ParseContext,
  base = 'definition',
): { ok: true; definition: Definition } | { ok: false; problems: Problem[] } {
  const out: Problem[] = [];
  if (!isObject(raw) || !Array.isArray(raw.all)) {
    return { ok: false, problems: [{ path: base, message: 'a definition is {"all": [groups]}' }] };
  }
  unknownKeys(raw, ['all'], base, out);
  if (raw.all.length === 0 || raw.all.length > LIMITS.groups)
    out.push({ path: `${base}.all`, message: `a definition needs 1 to ${LIMITS.groups} groups` });
  const groups: Group[] = [];
  raw.all.forEach((g, gi) => {
    const gp = `${base}.all[${gi}]`;
    if (!isObject(g) || !Array.isArray(g.any))
      return out.push({ path: gp, message: 'a group is {"any": [conditions], "not"?: boolean}' });
    unknownKeys(g, ['any', 'not'], gp, out);
    if (g.not !== undefined && typeof g.not !== 'boolean')
      out.push({ path: `${gp}.not`, message: 'not must be true or false' });
    if (g.any.length === 0 || g.any.length > LIMITS.conditions)
      out.push({ path: `${gp}.any`, message: `a group needs 1 to ${LIMITS.conditions} conditions` });
    const any: Condition[] = [];
    g.any.forEach((c, ci) => {
      const parsed = parseCondition(c, `${gp}.any[${ci}]`, ctx, out);
      if (parsed) any.push(parsed);
    });
    groups.push({ not: g.not === true, any });
  });
  return out.length > 0 ? { ok: false, problems: out } : { ok: true, definition: { all: groups } };
}

// ----------------------------------------------------------------------------------------- references

/** Every inCohort reference with its path, in document order. */
export function references(def: Definition, base = 'definition'): { cohortId: string; path: string }[] {
  const out: { cohortId: string; path: string }[] = [];
  def.all.forEach((g, gi) =>
    g.any.forEach((c, ci) => {
      if (isInCohort(c)) out.push({ cohortId: c.inCohort, path: `${base}.all[${gi}].any[${ci}].inCohort` });
    }),
  );
  return out;
}

export interface KnownCohort {
  readonly id: string;
  /** Parsed definition of a behavioral cohort; null for static cohorts (they reference nothing). */
  readonly definition: Definition | null;
}

/**
 * Unknown cohorts and cycles through inCohort. `selfId` is the cohort being saved (null for an estimate);
 * `known` are the project's other cohorts.
 */
export function checkReferences(
  selfId: string | null,
  def: Definition,
  known: ReadonlyMap<string, KnownCohort>,
  base = 'definition',
): Problem[] {
  const out: Problem[] = [];
  const reaches = (from: string, target: string, seen: Set<string>): boolean => {
    if (from === target) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    const d = known.get(from)?.definition;
    return d ? references(d).some((r) => reaches(r.cohortId, target, seen)) : false;
  };
  for (const ref of references(def, base)) {
    if (ref.cohortId === selfId) out.push({ path: ref.path, message: 'a cohort cannot be defined by itself' });
    else if (!known.has(ref.cohortId))
      out.push({ path: ref.path, message: `unknown cohort ${JSON.stringify(ref.cohortId)}` });
    else if (selfId !== null && reaches(ref.cohortId, selfId, new Set()))
      out.push({
        path: ref.path,
        message: `cohort ${ref.cohortId} refers back to this cohort through inCohort (a cycle)`,
      });
  }
  return out;
}

/**
 * Cohorts in an order where every cohort comes after the cohorts it references (the order to evaluate in).
 * Cycles cannot be saved; should one exist anyway, its members keep their input order.
 */
export function evaluationOrder<T extends KnownCohort>(cohorts: readonly T[]): T[] {
  const byId = new Map(cohorts.map((c) => [c.id, c]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (c: T) => {
    if (done.has(c.id) || visiting.has(c.id)) return;
    visiting.add(c.id);
    for (const r of c.definition ? references(c.definition) : []) {
      const dep = byId.get(r.cohortId);
      if (dep) visit(dep);
    }
    visiting.delete(c.id);
    done.add(c.id);
    out.push(c);
  };
  for (const c of cohorts) visit(c);
  return out;
}

/** The cohorts whose definitions reach `cohortId` through inCohort, directly or not. */
export function dependentsOf<T extends KnownCohort>(cohortId: string, cohorts: readonly T[]): T[] {
  const found = new Set<string>([cohortId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const c of cohorts) {
      if (found.has(c.id) || !c.definition) continue;
      if (references(c.definition).some((r) => found.has(r.cohortId))) {
        found.add(c.id);
        grew = true;
      }
    }
  }
  found.delete(cohortId);
  return cohorts.filter((c) => found.has(c.id));
}

// --------------------------------------------------------------------------------------------- windows

/**
 * The earliest event time (epoch ms, inclusive) an event condition counts at `nowMs`. Rolling windows move
 * with the clock; a condition without a window counts what retention keeps, which is a rolling window too.
 */
export function windowStartMs(c: EventCondition, nowMs: number, retentionDays: number): number {
  if (c.within === null) return nowMs - retentionDays * UNIT_MS.day;
  if ('since' in c.within) return Date.parse(c.within.since);
  return nowMs - c.within.last * UNIT_MS[c.within.unit];
}

/** The length of a rolling window in ms, or null for a since-date (it does not move). */
export function rollingWindowMs(c: EventCondition, retentionDays: number): number | null {
  if (c.within === null) return retentionDays * UNIT_MS.day;
  if ('since' in c.within) return null;
  return c.within.last * UNIT_MS[c.within.unit];
}

/**
 * Whether new events can only make a profile join the cohort, never leave it: every event condition counts
 * "at least" (gte, gt) in a group that is not negated, and every cohort read through inCohort is behavioral,
 * read in a group that is not negated, and so itself. User-property conditions do not move with events. A
 * member touched by new events alone is then still a member — until some of its events age out of a rolling
 * window, which the window sweeper re-decides — so a real-time pass need not decide it again.
 */
export function onlyJoinsWithEvents(
  def: Definition,
  definitionOf: (cohortId: string) => Definition | null | undefined,
  visiting: ReadonlySet<Definition> = new Set(),
): boolean {
  if (visiting.has(def)) return false;
  const inside = new Set(visiting).add(def);
  return def.all.every((g) =>
    g.any.every((c) => {
      if (isUserProperty(c)) return true;
      if (g.not) return false;
      if (isEvent(c)) return c.count.op === 'gte' || c.count.op === 'gt';
      const read = definitionOf(c.inCohort);
      return read !== null && read !== undefined && onlyJoinsWithEvents(read, definitionOf, inside);
    }),
  );
}

/** How far back a definition reads events at `nowMs` (the retention pruner must keep at least this). */
export function longestWindowMs(def: Definition, nowMs: number, retentionDays: number): number {
  let longest = 0;
  for (const g of def.all)
    for (const c of g.any) if (isEvent(c)) longest = Math.max(longest, nowMs - windowStartMs(c, nowMs, retentionDays));
  return longest;
}

// ------------------------------------------------------------------------------------------- semantics

/** UTF-8 byte order (what SQLite's BINARY and PostgreSQL's "C" collation compare), via code points. */
export function compareText(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function sameScalar(prop: unknown, value: Scalar): boolean {
  return typeof prop === typeof value && prop === value;
}

function ordered(prop: unknown, value: Scalar, op: 'gt' | 'gte' | 'lt' | 'lte'): boolean {
  let d: number;
  if (typeof value === 'number' && typeof prop === 'number') d = prop - value;
  else if (typeof value === 'string' && typeof prop === 'string') d = compareText(prop, value);
  else return false;
  return op === 'gt' ? d > 0 : op === 'gte' ? d >= 0 : op === 'lt' ? d < 0 : d <= 0;
}

/**
 * Whether a property value (undefined when absent) passes a test. Values compare as JSON scalars of the same
 * type: the string "5" never equals the number 5, and ordering ops compare numbers with numbers and strings
 * with strings (byte order). neq and not_set also hold when the property is absent.
 */
export function propertyPasses(prop: unknown, t: PropertyTest): boolean {
  const v = t.value;
  switch (t.op) {
    case 'set':
      return prop !== undefined && prop !== null;
    case 'not_set':
      return prop === undefined || prop === null;
    case 'eq':
      return sameScalar(prop, v as Scalar);
    case 'neq':
      return !sameScalar(prop, v as Scalar);
    case 'in':
      return (v as readonly Scalar[]).some((x) => sameScalar(prop, x));
    case 'contains':
      return typeof prop === 'string' && prop.includes(v as string);
    default:
      return ordered(prop, v as Scalar, t.op);
  }
}

export function countPasses(count: number, c: EventCondition['count']): boolean {
  switch (c.op) {
    case 'eq':
      return count === c.value;
    case 'neq':
      return count !== c.value;
    case 'gt':
      return count > c.value;
    case 'gte':
      return count >= c.value;
    case 'lt':
      return count < c.value;
    case 'lte':
      return count <= c.value;
  }
}

/** What is known about one user, per condition, to decide membership (explain, and the tests' oracle). */
export interface UserFacts {
  /** Matching events counted for the condition at [group][condition] (only event conditions are read). */
  readonly eventCount: (groupIndex: number, conditionIndex: number) => number;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly inCohort: (cohortId: string) => boolean;
}

export function conditionHolds(c: Condition, gi: number, ci: number, facts: UserFacts): boolean {
  if (isEvent(c)) return countPasses(facts.eventCount(gi, ci), c.count);
  if (isInCohort(c)) return facts.inCohort(c.inCohort);
  return propertyPasses(facts.properties[c.userProperty], c);
}

export function groupHolds(g: Group, gi: number, facts: UserFacts): boolean {
  const any = g.any.some((c, ci) => conditionHolds(c, gi, ci, facts));
  return g.not ? !any : any;
}

export function definitionHolds(def: Definition, facts: UserFacts): boolean {
  return def.all.every((g, gi) => groupHolds(g, gi, facts));
}

// --------------------------------------------------------------------------------------- plain English

const COUNT_WORDS: Record<CountOp, string> = {
  eq: 'exactly',
  neq: 'other than',
  gt: 'more than',
  gte: 'at least',
  lt: 'fewer than',
  lte: 'at most',
};
const COUNT_SIGNS: Record<CountOp, string> = { eq: '=', neq: '≠', gt: '>', gte: '≥', lt: '<', lte: '≤' };
const PROPERTY_WORDS: Record<PropertyOp, string> = {
  eq: 'is',
  neq: 'is not',
  gt: 'is greater than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  contains: 'contains',
  set: 'is set',
  not_set: 'is not set',
  in: 'is one of',
};

const times = (n: number) => `${n} ${n === 1 ? 'time' : 'times'}`;
const quote = (v: Scalar) => JSON.stringify(v);

export function describeWindow(w: Window | null): string {
  if (w === null) return 'in the retention period';
  if ('since' in w) return `since ${w.since}`;
  return `in the last ${w.last === 1 ? w.unit : `${w.last} ${w.unit}s`}`;
}

export function describeTest(subject: string, t: PropertyTest): string {
  const word = PROPERTY_WORDS[t.op];
  if (t.op === 'set' || t.op === 'not_set') return `${subject} ${word}`;
  if (t.op === 'in') return `${subject} ${word} ${(t.value as Scalar[]).map(quote).join(', ')}`;
  return `${subject} ${word} ${quote(t.value as Scalar)}`;
}

function describeEvent(c: EventCondition, negated: boolean): string {
  const filters = c.where.length > 0 ? ` where ${c.where.map((f) => describeTest(f.property, f)).join(' and ')}` : '';
  const plainOnce = c.count.op === 'gte' && c.count.value === 1;
  const count = plainOnce ? '' : ` ${COUNT_WORDS[c.count.op]} ${times(c.count.value)}`;
  return `${negated ? 'did not perform' : 'performed'} ${c.event}${filters}${count} ${describeWindow(c.within)}`;
}

export function describeCondition(c: Condition, cohortName: (id: string) => string, negated = false): string {
  if (isEvent(c)) return describeEvent(c, negated);
  if (isInCohort(c)) return `${negated ? 'is not' : 'is'} in cohort ${quote(cohortName(c.inCohort))}`;
  const text = describeTest(`user property ${c.userProperty}`, c);
  return negated ? `not (${text})` : text;
}

/** One sentence per group, for people (the rules builder, explain). */
export function describeGroup(g: Group, cohortName: (id: string) => string): string {
  if (g.not && g.any.length === 1) return describeCondition(g.any[0]!, cohortName, true);
  const inner = g.any.map((c) => describeCondition(c, cohortName)).join(' or ');
  return g.not ? `none of: ${inner}` : inner;
}

export function describeDefinition(def: Definition, cohortName: (id: string) => string = (id) => id): string {
  const groups = def.all.map((g) => {
    const text = describeGroup(g, cohortName);
    return def.all.length > 1 && g.any.length > 1 ? `(${text})` : text;
  });
  return `Users who ${groups.join(' and ')}`;
}

/** "performed Purchase 1 time in the last 30 days; needs ≥ 2" — what one user shows for one condition. */
export function explainCondition(
  c: Condition,
  observed: { count?: number; property?: unknown; member?: boolean },
  cohortName: (id: string) => string,
): string {
  if (isEvent(c)) {
    const filters = c.where.length > 0 ? ` (${c.where.map((f) => describeTest(f.property, f)).join(' and ')})` : '';
    return `performed ${c.event}${filters} ${times(observed.count ?? 0)} ${describeWindow(c.within)}; needs ${COUNT_SIGNS[c.count.op]} ${c.count.value}`;
  }
  if (isInCohort(c)) return `${observed.member ? 'is' : 'is not'} in cohort ${quote(cohortName(c.inCohort))}`;
  const p = observed.property;
  const now = p === undefined || p === null ? 'is not set' : `is ${JSON.stringify(p)}`;
  return `user property ${c.userProperty} ${now}; needs: ${describeTest(c.userProperty, c)}`;
}
