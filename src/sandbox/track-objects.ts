// /users/track attribute objects as the sandbox applies them (docs/sandbox.md): one primary identifier per
// object (external_id, user_alias or braze_id), update-only unless an external_id object says otherwise, array
// attributes with add/remove and Braze's default cap of 500 items (the oldest dropped first), null unsets.
// Errors are per object, by index, as Braze reports them in a 201.
import type { AliasRef } from './identifiers.ts';
import { isJsonObject, type JsonObject } from './json-checks.ts';
import type { Profile, UserStore } from './user-store.ts';

export const MAX_ARRAY_ITEMS = 500;
export const MAX_VALUE_LENGTH = 255;
export const MAX_EXTERNAL_ID_BYTES = 987;
const IDENTIFYING = ['external_id', 'user_alias', 'braze_id', 'email', 'phone'] as const;
const CONTROL = new Set<string>([...IDENTIFYING, '_update_existing_only']);

export interface TrackError {
  readonly type: string;
  readonly input_array: 'attributes';
  readonly index: number;
}

export interface TrackOutcome {
  readonly processed: number;
  readonly errors: TrackError[];
  /** Objects naming a user that does not exist, skipped without a word (update-only). */
  readonly skippedUnknown: number;
  /** Profiles created because an external_id object did not say _update_existing_only. */
  readonly created: number;
}

export function applyAttributes(users: UserStore, objects: readonly unknown[]): TrackOutcome {
  const errors: TrackError[] = [];
  let processed = 0;
  let skippedUnknown = 0;
  let created = 0;
  objects.forEach((raw, index) => {
    const fail = (type: string) => errors.push({ type, input_array: 'attributes', index });
    if (!isJsonObject(raw)) return fail('attributes object must be an object');
    const present = IDENTIFYING.filter((f) => raw[f] !== undefined);
    const primary = present.filter((f) => f === 'external_id' || f === 'user_alias' || f === 'braze_id');
    if (present.length === 0) return fail("'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required");
    if (primary.length > 1) return fail("only one of 'external_id', 'braze_id' or 'user_alias' may be given");
    if (primary.length === 0) return fail('the sandbox does not look users up by email or phone');
    const problem = checkValues(raw);
    if (problem) return fail(problem);
    let profile: Profile | undefined;
    if (primary[0] === 'external_id') {
      const id = raw.external_id;
      if (typeof id !== 'string' || id === '') return fail("'external_id' must be a non-empty string");
      if (Buffer.byteLength(id) > MAX_EXTERNAL_ID_BYTES) return fail("'external_id' must be fewer than 988 bytes");
      profile = users.matchExternalId(id);
      if (!profile && raw._update_existing_only !== true) {
        // What Braze does without update-only: a new profile. Counted, so tests can prove we never do it.
        profile = users.profileOf(users.seed({ external_id: id }, `attributes[${index}]`).profileId);
        created += 1;
      }
    } else if (primary[0] === 'user_alias') {
      const alias = raw.user_alias;
      if (!isJsonObject(alias) || typeof alias.alias_name !== 'string' || typeof alias.alias_label !== 'string')
        return fail("'user_alias' must have string 'alias_name' and 'alias_label'");
      profile = users.matchAlias({ alias_name: alias.alias_name, alias_label: alias.alias_label } satisfies AliasRef);
    } else {
      profile = typeof raw.braze_id === 'string' ? users.byBrazeId(raw.braze_id) : undefined;
    }
    if (!profile) {
      skippedUnknown += 1;
      processed += 1;
      return;
    }
    for (const [name, value] of Object.entries(raw)) if (!CONTROL.has(name)) write(profile, name, value);
    processed += 1;
  });
  return { processed, errors, skippedUnknown, created };
}

function checkValues(object: JsonObject): string | null {
  for (const [name, value] of Object.entries(object)) {
    if (CONTROL.has(name)) continue;
    if (name.length > MAX_VALUE_LENGTH || name.startsWith('$')) return `invalid custom attribute name '${name}'`;
    if (isJsonObject(value)) {
      for (const op of Object.keys(value))
        if (op !== 'add' && op !== 'remove') return `'${name}' may only use 'add' and 'remove'`;
      for (const op of ['add', 'remove'] as const) {
        const items = value[op];
        if (items === undefined) continue;
        if (!Array.isArray(items) || !items.every((v) => typeof v === 'string' && v.length <= MAX_VALUE_LENGTH))
          return `'${name}'.${op} must be an array of strings of at most ${MAX_VALUE_LENGTH} characters`;
      }
    } else if (typeof value === 'string' && value.length > MAX_VALUE_LENGTH) {
      return `'${name}' must be at most ${MAX_VALUE_LENGTH} characters`;
    }
  }
  return null;
}

function write(profile: Profile, name: string, value: unknown): void {
  if (value === null) {
    profile.attributes.delete(name);
    return;
  }
  if (!isJsonObject(value)) {
    profile.attributes.set(name, value);
    return;
  }
  const current = profile.attributes.get(name);
  let items = Array.isArray(current) ? (current as string[]).slice() : [];
  const removing = new Set((value.remove as string[] | undefined) ?? []);
  items = items.filter((v) => !removing.has(v));
  for (const v of (value.add as string[] | undefined) ?? []) {
    // Adding a value already there moves it to the end (the newest).
    items = items.filter((x) => x !== v);
    items.push(v);
  }
  // Past the cap Braze silently drops the oldest values.
  if (items.length > MAX_ARRAY_ITEMS) items = items.slice(items.length - MAX_ARRAY_ITEMS);
  profile.attributes.set(name, items);
}
