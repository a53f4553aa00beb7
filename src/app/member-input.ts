// Validates one member as the API and CSV import receive it: at least one id, ids as exact strings.
import type { MemberInput } from '../domain/model.ts';
import { hasLoneSurrogate } from '../domain/text.ts';

export type MemberCheck = { ok: true; member: MemberInput } | { ok: false; reason: string };

const MAX_ID_LENGTH = 1024;

function idField(raw: unknown, field: string): { value?: string; error?: string } {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'string') return { error: `${field} must be a string` };
  const error = idProblem(raw, field);
  return error === null ? { value: raw } : { error };
}

/** Why a non-empty string id is refused, or null: no object made, for the many ids of an upload. */
function idProblem(raw: string, field: string): string | null {
  // External ids are case-sensitive and never trimmed (docs/design.md §3): we only refuse what Braze cannot take.
  if (raw.length > MAX_ID_LENGTH) return `${field} is longer than ${MAX_ID_LENGTH} characters`;
  // The store indexes ids: PostgreSQL text cannot hold NUL, and an index entry must stay well under 2.7 kB.
  if (raw.includes('\u0000')) return `${field} contains a NUL character`;
  // A lone surrogate cannot be encoded as UTF-8: two distinct ids would read back alike (both as U+FFFD).
  if (hasLoneSurrogate(raw)) return `${field} contains a lone UTF-16 surrogate (not valid Unicode)`;
  // Kept exactly as sent, but an id that is only spaces names nobody (docs/security.md).
  if (raw.trim() === '') return `${field} is blank (only whitespace)`;
  // Only a string of more than MAX_ID_BYTES / 3 code units can take more than MAX_ID_BYTES in UTF-8.
  if (raw.length * 3 > MAX_ID_BYTES && Buffer.byteLength(raw, 'utf8') > MAX_ID_BYTES)
    return `${field} is longer than ${MAX_ID_BYTES} bytes in UTF-8`;
  return null;
}

const MAX_ID_BYTES = 2048;

const MAX_PROPERTY_DEPTH = 16;

/**
 * NUL anywhere in property names or text values (PostgreSQL's jsonb, which mappings read properties
 * through, refuses it), or nesting deep enough to make serialising the properties overflow the stack.
 */
function propertiesProblem(value: unknown, depth = 0): string | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return 'properties contain a NUL character';
    return hasLoneSurrogate(value) ? 'properties contain a lone UTF-16 surrogate (not valid Unicode)' : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_PROPERTY_DEPTH) return `properties are nested more than ${MAX_PROPERTY_DEPTH} levels deep`;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return 'properties contain a NUL character';
    if (hasLoneSurrogate(k)) return 'property names contain a lone UTF-16 surrogate (not valid Unicode)';
    const problem = propertiesProblem(v, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/**
 * Checks a member named by a user id alone (most rows of a CSV upload) without building its object: the
 * reason it is refused, or null. The same rules as checkMember for `{ user_id: id }`.
 */
export function userIdProblem(id: string): string | null {
  if (id === '') return 'a member needs a user_id or a device_id';
  return idProblem(id, 'user_id');
}

/**
 * The user id of a member named by it alone — `{ user_id }`, optionally with an empty device id or no
 * properties — or undefined for any other member, which takes checkMember.
 */
export function userOnly(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.user_id !== 'string' || r.user_id === '') return undefined;
  if (r.properties !== undefined || (r.device_id !== undefined && r.device_id !== null && r.device_id !== ''))
    return undefined;
  return r.user_id;
}

export function checkMember(raw: unknown): MemberCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, reason: 'a member must be an object' };
  const r = raw as Record<string, unknown>;
  const user = idField(r.user_id, 'user_id');
  const device = idField(r.device_id, 'device_id');
  const error = user.error ?? device.error;
  if (error) return { ok: false, reason: error };
  if (user.value === undefined && device.value === undefined)
    return { ok: false, reason: 'a member needs a user_id or a device_id' };
  const props = r.properties;
  if (props !== undefined && (typeof props !== 'object' || props === null || Array.isArray(props)))
    return { ok: false, reason: 'properties must be an object' };
  const problem = propertiesProblem(props);
  if (problem) return { ok: false, reason: problem };
  return {
    ok: true,
    member: {
      ...(user.value !== undefined ? { user_id: user.value } : {}),
      ...(device.value !== undefined ? { device_id: device.value } : {}),
      ...(props ? { properties: props as Record<string, unknown> } : {}),
    },
  };
}
