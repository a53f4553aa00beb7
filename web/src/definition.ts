// Behavioral cohort definitions (docs/ui.md "Rules builder"): an AND of groups, each an OR of conditions,
// a group optionally negated ("did not"). The builder's state, its JSON for the API, and the plain-English
// reading of a stored definition.
export type Op = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains' | 'set' | 'not_set' | 'in';

let next = 0;
/** A stable React key for a row the user can add and remove. */
export const uid = () => `r${++next}`;

export interface PropertyFilter {
  key: string;
  property: string;
  op: Op;
  value: string;
}

export type Condition =
  | {
      key: string;
      kind: 'event';
      event: string;
      countOp: Op;
      count: number;
      last: number;
      unit: 'minute' | 'hour' | 'day';
      where: PropertyFilter[];
    }
  | { key: string; kind: 'user'; property: string; op: Op; value: string };

export interface Group {
  key: string;
  not: boolean;
  any: Condition[];
}

export interface DefinitionJson {
  all: {
    not?: boolean;
    any: Record<string, unknown>[];
  }[];
}

const OP_WORDS: Record<string, string> = {
  eq: 'is',
  neq: 'is not',
  gt: 'is more than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  contains: 'contains',
  set: 'is set',
  not_set: 'is not set',
  in: 'is one of',
};
const COUNT_WORDS: Record<string, string> = {
  eq: 'exactly',
  neq: 'other than',
  gt: 'more than',
  gte: 'at least',
  lt: 'fewer than',
  lte: 'at most',
};

/** A typed value: numbers and booleans stay numbers and booleans; `in` takes a comma-separated list. */
function typed(op: Op, raw: string): unknown {
  if (op === 'in') return raw.split(',').map((v) => typed('eq', v.trim()));
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  return raw;
}

export function toJson(groups: Group[]): DefinitionJson {
  return {
    all: groups.map((g) => ({
      ...(g.not ? { not: true } : {}),
      any: g.any.map((c) =>
        c.kind === 'event'
          ? {
              event: c.event.trim(),
              ...(c.where.length
                ? {
                    where: c.where.map((w) => ({ property: w.property.trim(), op: w.op, value: typed(w.op, w.value) })),
                  }
                : {}),
              count: { op: c.countOp, value: c.count },
              within: { last: c.last, unit: c.unit },
            }
          : {
              userProperty: c.property.trim(),
              op: c.op,
              ...(c.op === 'set' || c.op === 'not_set' ? {} : { value: typed(c.op, c.value) }),
            },
      ),
    })),
  };
}

const show = (v: unknown): string =>
  Array.isArray(v) ? v.map(show).join(', ') : typeof v === 'string' ? `"${v}"` : String(v);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function conditionText(c: Record<string, unknown>, negated: boolean): string {
  if (typeof c.event === 'string') {
    const count = (c.count ?? { op: 'gte', value: 1 }) as { op: string; value: number };
    const within = c.within as { last?: number; unit?: string; since?: string } | undefined;
    const where = Array.isArray(c.where)
      ? (c.where as { property: string; op: string; value?: unknown }[])
          .map(
            (w) => ` with ${w.property} ${OP_WORDS[w.op] ?? w.op}${w.value === undefined ? '' : ` ${show(w.value)}`}`,
          )
          .join(' and')
      : '';
    const window = within?.last
      ? ` in the last ${plural(within.last, within.unit ?? 'day')}`
      : within?.since
        ? ` since ${within.since}`
        : '';
    return `${negated ? 'did not perform' : 'performed'} ${c.event}${where} ${COUNT_WORDS[count.op] ?? count.op} ${plural(count.value, 'time')}${window}`;
  }
  if (typeof c.userProperty === 'string') {
    const text = `${c.userProperty} ${OP_WORDS[String(c.op)] ?? c.op}${c.value === undefined ? '' : ` ${show(c.value)}`}`;
    return negated ? `not (${text})` : text;
  }
  if (typeof c.inCohort === 'string') return `${negated ? 'not in' : 'in'} cohort ${c.inCohort}`;
  return JSON.stringify(c);
}

/** The definition read back in plain English, one line per group. */
export function describeDefinition(definition: unknown): string[] {
  const all = (definition as DefinitionJson | null)?.all;
  if (!Array.isArray(all) || all.length === 0) return ['Everyone (no conditions)'];
  return all.map((g, i) => {
    const parts = (g.any ?? []).map((c) => conditionText(c, Boolean(g.not)));
    const joined = parts.join(g.not ? ' and ' : ' or ');
    const line = parts.length > 1 && !g.not ? `(${joined})` : joined;
    return `${i === 0 ? 'Users who' : 'and who'} ${line}`;
  });
}
