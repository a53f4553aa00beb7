// Small shape checks shared by the request parsers. Each throws a 400 whose message names the offending
// field by its JSON path, so a failing client test says exactly what was wrong with the body.
import { badRequest } from './errors.ts';
import type { AliasRef } from './identifiers.ts';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) throw badRequest(`${path} must be a JSON object`);
  return value;
}

/** Rejects fields outside `allowed`: every optional field misspelt would otherwise be silently ignored. */
export function rejectUnknownFields(object: JsonObject, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw badRequest(`${path} has an unknown field ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`);
    }
  }
}

export function requireNonEmptyString(object: JsonObject, field: string, path = field): string {
  const value = object[field];
  if (value === undefined || value === null) throw badRequest(`${path} is required`);
  if (typeof value !== 'string' || value.length === 0) throw badRequest(`${path} must be a non-empty string`);
  return value;
}

/** An optional array of non-empty strings. Values are kept verbatim: Braze ids are case-sensitive, never trimmed. */
export function optionalStringArray(object: JsonObject, field: string, path: string): string[] {
  const value = object[field];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw badRequest(`${path}.${field} must be an array of strings`);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0) {
      throw badRequest(`${path}.${field}[${i}] must be a non-empty string`);
    }
  });
  return value as string[];
}

export function optionalAliases(object: JsonObject, field: string, path: string): AliasRef[] {
  const value = object[field];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw badRequest(`${path}.${field} must be an array of {alias_name, alias_label}`);
  return value.map((item, i) => {
    const at = `${path}.${field}[${i}]`;
    const alias = requireObject(item, at);
    rejectUnknownFields(alias, ['alias_name', 'alias_label'], at);
    return {
      alias_name: requireNonEmptyString(alias, 'alias_name', `${at}.alias_name`),
      alias_label: requireNonEmptyString(alias, 'alias_label', `${at}.alias_label`),
    };
  });
}
