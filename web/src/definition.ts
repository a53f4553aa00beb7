import { describeDefinition as describeDomain, parseDefinition } from '../../src/domain/behavioral.ts';

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

/**
 * The definition read back in plain English, by the same module the server reads definitions with
 * (src/domain/behavioral.ts is pure, so the UI shares it instead of keeping a second reading).
 */
export function describeDefinition(definition: unknown, cohortName: (id: string) => string = (id) => id): string {
  // Windows are not checked against retention here: the server does that on save.
  const parsed = parseDefinition(definition, { retentionDays: 1e6, nowMs: Date.now() });
  if (!parsed.ok) return 'An incomplete definition';
  return describeDomain(parsed.definition, cohortName);
}
