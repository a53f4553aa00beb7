// Which items of a batch a 2xx answer's `errors` array failed (docs/design.md, "A 2xx is not always a full
// acknowledgement"). /users/track names them by `index` into the request's `attributes`; the partner endpoints
// document no shape, so an error names the identifiers whose value it quotes exactly. An error that names none
// fails the whole batch: better to retry a few delivered identifiers next run than to call lost ones delivered.
import type { Identifier } from '../../domain/identifiers.ts';
import type { ItemOutcome } from '../../ports/destination.ts';
import { scrubSecrets } from './secrets.ts';

const SENT: ItemOutcome = { status: 'sent' };

export function errorsOf(body: unknown): unknown[] {
  if (body === null || typeof body !== 'object' || !('errors' in body) || !Array.isArray(body.errors)) return [];
  return body.errors;
}

const textOf = (error: unknown, secrets: readonly string[]): string =>
  scrubSecrets(typeof error === 'string' ? error : JSON.stringify(error), secrets);

/** Every string an error carries: its own words split on quotes and separators, or an object's string values. */
function tokensOf(error: unknown, into: Set<string>): void {
  if (typeof error === 'string') {
    into.add(error);
    for (const part of error.split(/["'`\s,;:()[\]{}]+/)) if (part !== '') into.add(part);
  } else if (Array.isArray(error)) {
    for (const e of error) tokensOf(e, into);
  } else if (error !== null && typeof error === 'object') {
    for (const v of Object.values(error)) tokensOf(v, into);
  }
}

/** Outcomes for `items` (adds then removes) when errors can only name identifiers by value. */
export function outcomesByNamedValue(
  items: readonly Identifier[],
  errors: readonly unknown[],
  secrets: readonly string[],
): ItemOutcome[] {
  if (errors.length === 0) return items.map(() => SENT);
  const reasons = new Map<number, string[]>();
  errors.forEach((error) => {
    const tokens = new Set<string>();
    tokensOf(error, tokens);
    items.forEach((id, i) => {
      const named = id.kind === 'alias' ? tokens.has(id.name) : tokens.has(id.value);
      if (named) reasons.set(i, [...(reasons.get(i) ?? []), textOf(error, secrets)]);
    });
  });
  if (reasons.size === 0) {
    const all = `Braze answered 2xx with errors naming no identifier, so the whole batch counts as failed: ${errors.map((e) => textOf(e, secrets)).join('; ')}`;
    return items.map(() => ({ status: 'failed', reason: all }));
  }
  return items.map((_, i) => {
    const why = reasons.get(i);
    return why ? { status: 'failed', reason: why.join('; ') } : SENT;
  });
}

/** Outcomes for `count` objects when errors name them by `index` (and `input_array` "attributes"). */
export function outcomesByIndex(count: number, errors: readonly unknown[], secrets: readonly string[]): ItemOutcome[] {
  if (errors.length === 0) return Array.from({ length: count }, () => SENT);
  const reasons = new Map<number, string[]>();
  const unplaced: string[] = [];
  for (const error of errors) {
    const index =
      error !== null && typeof error === 'object' && 'index' in error && typeof error.index === 'number'
        ? error.index
        : undefined;
    const array =
      error !== null && typeof error === 'object' && 'input_array' in error ? String(error.input_array) : 'attributes';
    const type =
      error !== null && typeof error === 'object' && 'type' in error && typeof error.type === 'string'
        ? scrubSecrets(error.type, secrets)
        : textOf(error, secrets);
    if (index === undefined || array !== 'attributes' || !Number.isInteger(index) || index < 0 || index >= count)
      unplaced.push(type);
    else reasons.set(index, [...(reasons.get(index) ?? []), type]);
  }
  if (reasons.size === 0) {
    const all = `Braze answered 2xx with errors naming no object, so the whole batch counts as failed: ${unplaced.join('; ')}`;
    return Array.from({ length: count }, () => ({ status: 'failed', reason: all }));
  }
  return Array.from({ length: count }, (_, i) => {
    const why = reasons.get(i);
    return why ? { status: 'failed', reason: why.join('; ') } : SENT;
  });
}
