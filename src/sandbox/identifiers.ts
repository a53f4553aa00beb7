// The sandbox's own notion of a Braze identifier. Deliberately not shared with src/domain or the Braze
// client: the sandbox stands in for Braze, so a bug in our identifier model must not be mirrored here.

export interface AliasRef {
  readonly alias_name: string;
  readonly alias_label: string;
}

/** Kinds as they are named in a `cohort_changes` block. */
export type IdentifierField = 'user_ids' | 'device_ids' | 'aliases';

/**
 * Aliases are keyed as a JSON pair so that any label or name (even one containing separators) maps to
 * exactly one key and back.
 */
export function aliasKey(alias: AliasRef): string {
  return JSON.stringify([alias.alias_label, alias.alias_name]);
}

export function aliasFromKey(key: string): AliasRef {
  const [label, name] = JSON.parse(key) as [string, string];
  return { alias_name: name, alias_label: label };
}

/** Stable order for listings: by label, then name. */
export function compareAliases(a: AliasRef, b: AliasRef): number {
  return compareStrings(a.alias_label, b.alias_label) || compareStrings(a.alias_name, b.alias_name);
}

/** Code-unit order, independent of the host's locale, so listings are identical on every machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
