// An identifier is what Braze matches a user by (docs/design.md §1, §2). Each has a canonical string key so the
// store can index, compare and de-duplicate identifiers of every kind in one column.
export type IdentifierKind = 'external_id' | 'device_id' | 'alias';

export type Identifier =
  | { readonly kind: 'external_id'; readonly value: string }
  | { readonly kind: 'device_id'; readonly value: string }
  | { readonly kind: 'alias'; readonly label: string; readonly name: string };

// The unit separator cannot appear in a label typed into a form, and PostgreSQL text accepts it (NUL it does not).
const ALIAS_SEPARATOR = '\u001f';

export function identifierKey(id: Identifier): string {
  switch (id.kind) {
    case 'external_id':
      return `e:${id.value}`;
    case 'device_id':
      return `d:${id.value}`;
    case 'alias':
      return `a:${id.label}${ALIAS_SEPARATOR}${id.name}`;
  }
}

export function parseIdentifierKey(key: string): Identifier {
  const body = key.slice(2);
  switch (key.slice(0, 2)) {
    case 'e:':
      return { kind: 'external_id', value: body };
    case 'd:':
      return { kind: 'device_id', value: body };
    case 'a:': {
      const at = body.indexOf(ALIAS_SEPARATOR);
      if (at < 0) throw new Error(`malformed alias identifier key: ${JSON.stringify(key)}`);
      return { kind: 'alias', label: body.slice(0, at), name: body.slice(at + 1) };
    }
    default:
      throw new Error(`unknown identifier key: ${JSON.stringify(key)}`);
  }
}

export const aliasKeyPrefix = (label: string): string => `a:${label}${ALIAS_SEPARATOR}`;

/** Human-readable form for logs, CSV exports and explain output. */
export function describeIdentifier(id: Identifier): { kind: IdentifierKind; value: string } {
  return id.kind === 'alias' ? { kind: 'alias', value: `${id.label}:${id.name}` } : { kind: id.kind, value: id.value };
}
