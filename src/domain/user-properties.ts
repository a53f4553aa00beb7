// Amplitude's user-property operations (docs/ingestion.md, after Amplitude's Identify API documentation),
// applied to a profile's properties. Plain keys beside operations are set, as Amplitude does for the
// user_properties of ordinary events.

export const OPERATIONS = [
  '$clearAll',
  '$unset',
  '$setOnce',
  '$set',
  '$add',
  '$append',
  '$prepend',
  '$preInsert',
  '$postInsert',
  '$remove',
] as const;
export type Operation = (typeof OPERATIONS)[number];

const KNOWN = new Set<string>(OPERATIONS);
const isOperation = (key: string): key is Operation => KNOWN.has(key);
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Why an update cannot be applied, or null when it can. `allowMixed: false` (the /identify endpoint) refuses
 * plain keys beside operations in one object.
 */
export function checkUserProperties(update: Record<string, unknown>, opts: { allowMixed: boolean }): string | null {
  let ops = 0;
  let plain = 0;
  for (const [key, value] of Object.entries(update)) {
    if (!key.startsWith('$')) {
      plain += 1;
      continue;
    }
    if (!isOperation(key)) return `unknown operation ${key}`;
    ops += 1;
    // $clearAll takes any marker value ("-"); $unset may also name keys in an array.
    if (key === '$clearAll') continue;
    if (key === '$unset' && Array.isArray(value) && value.every((k) => typeof k === 'string')) continue;
    if (!isPlainObject(value)) return `${key} must be an object of property names to values`;
  }
  if (!opts.allowMixed && ops > 0 && plain > 0) return 'plain properties and operations cannot be mixed in one object';
  return null;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The properties after `update` (which checkUserProperties accepted); `current` is not modified. */
export function applyUserProperties(
  current: Readonly<Record<string, unknown>>,
  update: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  let props: Record<string, unknown> = { ...current };
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(update)) if (!k.startsWith('$')) plain[k] = v;
  // A fixed order makes one update deterministic whatever the key order of the JSON object.
  for (const op of OPERATIONS) {
    const arg = update[op];
    if (arg === undefined) continue;
    if (op === '$clearAll') {
      props = {};
      continue;
    }
    if (op === '$unset') {
      for (const k of Array.isArray(arg) ? (arg as string[]) : Object.keys(arg as object)) delete props[k];
      continue;
    }
    for (const [k, v] of Object.entries(arg as Record<string, unknown>)) {
      const had = Object.hasOwn(props, k);
      const cur = props[k];
      switch (op) {
        case '$set':
          props[k] = v;
          break;
        case '$setOnce':
          if (!had) props[k] = v;
          break;
        case '$add': {
          const by = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
          if (!Number.isFinite(by)) break;
          const base = typeof cur === 'number' ? cur : typeof cur === 'string' && cur.trim() !== '' ? Number(cur) : 0;
          props[k] = (Number.isFinite(base) ? base : 0) + by;
          break;
        }
        case '$append':
          props[k] = [...(had ? asList(cur) : []), ...asList(v)];
          break;
        case '$prepend':
          props[k] = [...asList(v), ...(had ? asList(cur) : [])];
          break;
        case '$postInsert':
        case '$preInsert': {
          const existing = had ? asList(cur) : [];
          const fresh = asList(v).filter((x) => !existing.some((e) => sameValue(e, x)));
          props[k] = op === '$postInsert' ? [...existing, ...fresh] : [...fresh, ...existing];
          break;
        }
        case '$remove': {
          if (!had) break;
          const drop = asList(v);
          props[k] = asList(cur).filter((e) => !drop.some((x) => sameValue(e, x)));
          break;
        }
      }
    }
  }
  Object.assign(props, plain);
  return props;
}
