// Parsing of the two partner endpoint bodies (docs/design.md §1), strict on purpose: anything Braze documents as
// a 400 is a 400 here too, with a message that points at the field, so our client's bugs surface in tests.
import { badRequest } from './errors.ts';
import { aliasKey, type IdentifierField } from './identifiers.ts';
import {
  isJsonObject,
  type JsonObject,
  optionalAliases,
  optionalStringArray,
  rejectUnknownFields,
  requireNonEmptyString,
  requireObject,
} from './json-checks.ts';
import type { CohortChange } from './workspace.ts';

/** Braze's cap, counted over user_ids + device_ids + aliases of every block of one request. */
export const MAX_IDENTIFIERS_PER_REQUEST = 1000;

export interface NameRequest {
  readonly cohortId: string;
  readonly name: string;
  readonly createdAt: string;
}

export interface UsersRequest {
  readonly cohortId: string;
  readonly changes: readonly CohortChange[];
  readonly identifierCount: number;
}

const CHANGE_FIELDS = ['user_ids', 'device_ids', 'aliases', 'should_remove'] as const;

// Date and time with an explicit offset: a timestamp without a zone would be read in the server's zone.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The keys as sent, or undefined when absent or not a string; authentication decides what that means. */
export function readCredentials(body: unknown): { partnerApiKey?: string; clientSecret?: string } {
  if (!isJsonObject(body)) return {};
  const partnerApiKey = typeof body.partner_api_key === 'string' ? body.partner_api_key : undefined;
  const clientSecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  return { ...(partnerApiKey !== undefined && { partnerApiKey }), ...(clientSecret !== undefined && { clientSecret }) };
}

export function parseNameRequest(body: unknown): NameRequest {
  const object = requireObject(body, 'request body');
  const cohortId = requireNonEmptyString(object, 'cohort_id');
  const name = requireNonEmptyString(object, 'name');
  if (name.trim().length === 0) throw badRequest('name must not be blank');
  const createdAt = requireNonEmptyString(object, 'created_at');
  if (!ISO_TIMESTAMP.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    throw badRequest(`created_at must be an ISO-8601 timestamp with a time zone, got ${JSON.stringify(createdAt)}`);
  }
  return { cohortId, name, createdAt };
}

export function parseUsersRequest(body: unknown): UsersRequest {
  const object = requireObject(body, 'request body');
  const cohortId = requireNonEmptyString(object, 'cohort_id');
  const rawChanges = object.cohort_changes;
  if (rawChanges === undefined || rawChanges === null) throw badRequest('cohort_changes is required');
  if (!Array.isArray(rawChanges)) throw badRequest('cohort_changes must be an array');

  const changes = rawChanges.map((raw, i) => parseChange(raw, `cohort_changes[${i}]`));
  const identifierCount = changes.reduce((n, c) => n + c.user_ids.length + c.device_ids.length + c.aliases.length, 0);
  if (identifierCount > MAX_IDENTIFIERS_PER_REQUEST) {
    throw badRequest(
      `too many identifiers: ${identifierCount} in one request; at most ${MAX_IDENTIFIERS_PER_REQUEST} ` +
        'user_ids + device_ids + aliases across all cohort_changes',
    );
  }
  rejectDuplicates(changes);
  return { cohortId, changes, identifierCount };
}

function parseChange(raw: unknown, path: string): CohortChange {
  const block: JsonObject = requireObject(raw, path);
  rejectUnknownFields(block, CHANGE_FIELDS, path);
  const shouldRemove = block.should_remove;
  if (shouldRemove !== undefined && typeof shouldRemove !== 'boolean') {
    throw badRequest(`${path}.should_remove must be a boolean`);
  }
  return {
    user_ids: optionalStringArray(block, 'user_ids', path),
    device_ids: optionalStringArray(block, 'device_ids', path),
    aliases: optionalAliases(block, 'aliases', path),
    should_remove: shouldRemove ?? false,
  };
}

/**
 * Braze forbids the same identifier twice in one request — twice in a block, or in an add and a remove
 * block (docs/design.md §1) — because the outcome would depend on processing order. The same value under two
 * different kinds (a user id equal to a device id) is two identifiers and is fine.
 */
function rejectDuplicates(changes: readonly CohortChange[]): void {
  const seen = new Map<string, number>();
  changes.forEach((change, block) => {
    const check = (field: IdentifierField, key: string, shown: () => string): void => {
      const seenKey = `${field}\u0000${key}`;
      const first = seen.get(seenKey);
      if (first === undefined) {
        seen.set(seenKey, block);
        return;
      }
      const where =
        first === block
          ? `twice in cohort_changes[${block}]`
          : `in cohort_changes[${first}] and cohort_changes[${block}]` +
            (changes[first]?.should_remove !== change.should_remove ? ' (added and removed in the same request)' : '');
      throw badRequest(
        `duplicate identifier: ${field} ${shown()} appears ${where}; send each identifier at most once per request`,
      );
    };
    for (const id of change.user_ids) check('user_ids', id, () => JSON.stringify(id));
    for (const id of change.device_ids) check('device_ids', id, () => JSON.stringify(id));
    for (const alias of change.aliases) {
      check(
        'aliases',
        aliasKey(alias),
        () => `{alias_label: ${JSON.stringify(alias.alias_label)}, alias_name: ${JSON.stringify(alias.alias_name)}}`,
      );
    }
  });
}

/** Best-effort identifier count of any body, for the request log (also for bodies that failed validation). */
export function countIdentifiers(body: unknown): number {
  if (!isJsonObject(body) || !Array.isArray(body.cohort_changes)) return 0;
  let n = 0;
  for (const block of body.cohort_changes) {
    if (!isJsonObject(block)) continue;
    for (const field of ['user_ids', 'device_ids', 'aliases']) {
      const list = block[field];
      if (Array.isArray(list)) n += list.length;
    }
  }
  return n;
}
