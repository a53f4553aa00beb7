// Validation of /identify's `identification` entries (docs/ingestion.md): each names a user by user_id
// and/or device_id, with the same id rules as events, and carries user properties — plain keys or
// operations, not both in one object, as Amplitude's Identify API documents.
import {
  checkId,
  DEFAULT_MIN_ID_LENGTH,
  type EventProblems,
  isPlainObject,
  listUnder,
  storableJson,
} from './amplitude-event.ts';
import { checkUserProperties } from './user-properties.ts';

export interface ValidIdentification {
  readonly index: number;
  readonly userId: string | null;
  readonly deviceId: string | null;
  readonly userProperties: Record<string, unknown>;
}

export function validateIdentifications(
  entries: readonly unknown[],
): EventProblems & { readonly valid: ValidIdentification[] } {
  const valid: ValidIdentification[] = [];
  const invalidFields: Record<string, number[]> = {};
  const missingFields: Record<string, number[]> = {};
  entries.forEach((raw, index) => {
    if (!isPlainObject(raw)) {
      listUnder(invalidFields, 'identification', index);
      return;
    }
    let ok = true;
    const userId = checkId(raw.user_id, DEFAULT_MIN_ID_LENGTH);
    const deviceId = checkId(raw.device_id, DEFAULT_MIN_ID_LENGTH);
    for (const [field, id] of [
      ['user_id', userId],
      ['device_id', deviceId],
    ] as const) {
      if (id === 'invalid') {
        listUnder(invalidFields, field, index);
        ok = false;
      }
    }
    if (userId === null && deviceId === null) {
      listUnder(missingFields, 'user_id', index);
      listUnder(missingFields, 'device_id', index);
      ok = false;
    }
    const props = raw.user_properties ?? {};
    if (!isPlainObject(props) || !storableJson(props) || checkUserProperties(props, { allowMixed: false }) !== null) {
      listUnder(invalidFields, 'user_properties', index);
      ok = false;
    }
    if (ok)
      valid.push({
        index,
        userId: userId as string | null,
        deviceId: deviceId as string | null,
        userProperties: props as Record<string, unknown>,
      });
  });
  return { valid, invalidFields, missingFields };
}
