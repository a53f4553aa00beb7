// Validates one member as the API and CSV import receive it: at least one id, ids as exact strings.
import type { MemberInput } from '../domain/model.ts';

export type MemberCheck = { ok: true; member: MemberInput } | { ok: false; reason: string };

const MAX_ID_LENGTH = 1024;

function idField(raw: unknown, field: string): { value?: string; error?: string } {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'string') return { error: `${field} must be a string` };
  // External ids are case-sensitive and never trimmed (braze.md §2): we only refuse what Braze cannot take.
  if (raw.length > MAX_ID_LENGTH) return { error: `${field} is longer than ${MAX_ID_LENGTH} characters` };
  return { value: raw };
}

export function checkMember(raw: unknown): MemberCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'a member must be an object' };
  const r = raw as Record<string, unknown>;
  const user = idField(r.user_id, 'user_id');
  const device = idField(r.device_id, 'device_id');
  const error = user.error ?? device.error;
  if (error) return { ok: false, reason: error };
  if (user.value === undefined && device.value === undefined) return { ok: false, reason: 'a member needs a user_id or a device_id' };
  const props = r.properties;
  if (props !== undefined && (typeof props !== 'object' || props === null || Array.isArray(props))) return { ok: false, reason: 'properties must be an object' };
  return {
    ok: true,
    member: {
      ...(user.value !== undefined ? { user_id: user.value } : {}),
      ...(device.value !== undefined ? { device_id: device.value } : {}),
      ...(props ? { properties: props as Record<string, unknown> } : {}),
    },
  };
}
