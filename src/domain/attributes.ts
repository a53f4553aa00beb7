// Names and values of the custom attributes a custom_attribute target writes (docs/design.md, "Custom
// attribute"): array values and attribute names are exact-match strings of at most 255 characters; a sync's
// default is derived from its cohort's name once, at creation, and never rewritten.
export const DEFAULT_ATTRIBUTE_NAME = 'cohorts';
export const MAX_ATTRIBUTE_LENGTH = 255;

/** Profile fields and request keys of /users/track that a custom attribute must never overwrite. */
const RESERVED = new Set([
  'external_id',
  'user_alias',
  'braze_id',
  'email',
  'phone',
  'first_name',
  'last_name',
  'country',
  'dob',
  'gender',
  'home_city',
  'language',
  'time_zone',
  'email_subscribe',
  'push_subscribe',
  'push_tokens',
  'subscription_groups',
  '_update_existing_only',
]);

export function attributeNameProblem(name: string): string | null {
  if (name.trim() === '' || name !== name.trim())
    return 'an attribute name must be non-empty without surrounding spaces';
  if (name.length > MAX_ATTRIBUTE_LENGTH) return `an attribute name has at most ${MAX_ATTRIBUTE_LENGTH} characters`;
  if (name.startsWith('$')) return 'Braze attribute names cannot start with "$"';
  if (RESERVED.has(name.toLowerCase())) return `"${name}" is a Braze profile field, not a custom attribute`;
  return null;
}

export function attributeValueProblem(value: string): string | null {
  if (value.trim() === '') return 'an attribute value must be non-empty';
  if (value.length > MAX_ATTRIBUTE_LENGTH) return `an attribute value has at most ${MAX_ATTRIBUTE_LENGTH} characters`;
  return null;
}

/** "Power Users (EU)" → "power-users-eu": lower case, runs of other characters become one dash. */
export function slugOf(name: string, separator: '-' | '_' = '-'): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, separator)
    .replace(new RegExp(`^\\${separator}+|\\${separator}+$`, 'g'), '');
}

/** The default a sync gets: the cohort's name as a slug (boolean style: `in_<slug>`), cut to fit. */
export function defaultAttributeFor(cohort: { name: string; id: string }, style: 'array' | 'boolean'): string {
  const slug = slugOf(cohort.name, style === 'array' ? '-' : '_') || cohort.id.toLowerCase();
  const base = style === 'array' ? slug : `in_${slug}`;
  return base.slice(0, MAX_ATTRIBUTE_LENGTH - 8);
}

/** The first of base, base-2, base-3… that `taken` does not hold. */
export function firstFree(base: string, taken: ReadonlySet<string>, separator: '-' | '_' = '-'): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}${separator}${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}
