// Amplitude's event validation rules (docs/ingestion.md, after Amplitude's HTTP V2 API documentation):
// each event is checked on its own, so a request with some bad events keeps the good ones and names the bad
// ones by index and field. Pure: the caller gives the receive time.
import { checkUserProperties } from './user-properties.ts';

/** Longest string Amplitude accepts anywhere in an event (ids, names, property keys and values). */
export const MAX_STRING_LENGTH = 1024;
/** Nesting Amplitude allows in property objects. */
export const MAX_DEPTH = 40;
export const DEFAULT_MIN_ID_LENGTH = 5;

// Values SDKs or apps send when they have no real id; Amplitude refuses them as ids.
const PLACEHOLDER_IDS = new Set([
  '',
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '00000000-0000-0000-0000-000000000000',
  '0',
  '-1',
  '{}',
]);

export const isPlaceholderId = (id: string): boolean => PLACEHOLDER_IDS.has(id.trim().toLowerCase());

/** An event that passed validation, split into the columns the store keeps and the rest (`data`). */
export interface ValidEvent {
  /** Position in the request's `events` array. */
  readonly index: number;
  readonly eventType: string;
  readonly userId: string | null;
  readonly deviceId: string | null;
  readonly timeMs: number;
  readonly insertId: string | null;
  readonly eventProperties: Record<string, unknown>;
  readonly userProperties: Record<string, unknown>;
  /** Every other field of the event, as sent. */
  readonly data: Record<string, unknown>;
}

export interface EventProblems {
  /** field → indexes of events where it has a bad value. */
  readonly invalidFields: Record<string, number[]>;
  /** field → indexes of events where a required field is absent. */
  readonly missingFields: Record<string, number[]>;
}

export interface ValidatedEvents extends EventProblems {
  readonly valid: ValidEvent[];
}

type Problem = { readonly kind: 'invalid' | 'missing'; readonly field: string };

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// Lone UTF-16 surrogates cannot be stored as UTF-8, and PostgreSQL text cannot hold NUL.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether every string (key or value) in a JSON value is storable and at most 1024 characters long. */
export function storableJson(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.length <= MAX_STRING_LENGTH && !UNSTORABLE.test(value);
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value === 'boolean') return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.every((v) => storableJson(v, depth + 1));
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // `__proto__` would set an object's prototype when copied by assignment, never a property.
      if (k.length > MAX_STRING_LENGTH || k === '__proto__' || UNSTORABLE.test(k) || !storableJson(v, depth + 1))
        return false;
    }
    return true;
  }
  return false;
}

/** An id as Amplitude keeps it: too short is dropped (undefined), a placeholder or a non-string is a problem. */
export function checkId(value: unknown, minIdLength: number): string | null | 'invalid' {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return 'invalid';
  if (isPlaceholderId(value) || !storableJson(value)) return 'invalid';
  if (value.length < minIdLength) return null;
  return value;
}

const OWN_FIELDS = new Set([
  'event_type',
  'user_id',
  'device_id',
  'time',
  'insert_id',
  'event_properties',
  'user_properties',
]);

function validateOne(raw: unknown, index: number, minIdLength: number, receivedMs: number): ValidEvent | Problem[] {
  if (!isPlainObject(raw)) return [{ kind: 'invalid', field: 'event' }];
  const problems: Problem[] = [];
  const eventType = raw.event_type;
  if (eventType === undefined || eventType === null || eventType === '')
    problems.push({ kind: 'missing', field: 'event_type' });
  else if (typeof eventType !== 'string' || !storableJson(eventType))
    problems.push({ kind: 'invalid', field: 'event_type' });

  const userId = checkId(raw.user_id, minIdLength);
  const deviceId = checkId(raw.device_id, minIdLength);
  if (userId === 'invalid') problems.push({ kind: 'invalid', field: 'user_id' });
  if (deviceId === 'invalid') problems.push({ kind: 'invalid', field: 'device_id' });
  if (userId === null && deviceId === null) {
    // Either id would make the event valid, so it is listed under both.
    problems.push({ kind: 'missing', field: 'user_id' }, { kind: 'missing', field: 'device_id' });
  }

  let timeMs = receivedMs;
  if (raw.time !== undefined && raw.time !== null) {
    if (typeof raw.time !== 'number' || !Number.isFinite(raw.time) || raw.time < 0)
      problems.push({ kind: 'invalid', field: 'time' });
    else timeMs = Math.floor(raw.time);
  }

  let insertId: string | null = null;
  if (raw.insert_id !== undefined && raw.insert_id !== null && raw.insert_id !== '') {
    if (typeof raw.insert_id !== 'string' || !storableJson(raw.insert_id))
      problems.push({ kind: 'invalid', field: 'insert_id' });
    else insertId = raw.insert_id;
  }

  const objectField = (field: 'event_properties' | 'user_properties'): Record<string, unknown> => {
    const v = raw[field];
    if (v === undefined || v === null) return {};
    if (!isPlainObject(v) || !storableJson(v)) {
      problems.push({ kind: 'invalid', field });
      return {};
    }
    return v;
  };
  const eventProperties = objectField('event_properties');
  const userProperties = objectField('user_properties');
  if (Object.keys(userProperties).length > 0 && checkUserProperties(userProperties, { allowMixed: true }) !== null)
    problems.push({ kind: 'invalid', field: 'user_properties' });

  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (OWN_FIELDS.has(k)) continue;
    if (!storableJson(k) || !storableJson(v)) problems.push({ kind: 'invalid', field: k.slice(0, 100) });
    else data[k] = v;
  }

  if (problems.length > 0) return problems;
  return {
    index,
    eventType: eventType as string,
    userId: userId as string | null,
    deviceId: deviceId as string | null,
    timeMs,
    insertId,
    eventProperties,
    userProperties,
    data,
  };
}

export function listUnder(into: Record<string, number[]>, field: string, index: number): void {
  const list = into[field] ?? [];
  if (list.at(-1) !== index) list.push(index);
  into[field] = list;
}

/** Validates every event; `minIdLength` comes from the request's options (default 5). */
export function validateEvents(
  events: readonly unknown[],
  opts: { minIdLength: number; receivedMs: number },
): ValidatedEvents {
  const valid: ValidEvent[] = [];
  const invalidFields: Record<string, number[]> = {};
  const missingFields: Record<string, number[]> = {};
  events.forEach((raw, index) => {
    const result = validateOne(raw, index, opts.minIdLength, opts.receivedMs);
    if (!Array.isArray(result)) {
      valid.push(result);
      return;
    }
    for (const p of result) listUnder(p.kind === 'invalid' ? invalidFields : missingFields, p.field, index);
  });
  return { valid, invalidFields, missingFields };
}

/** The request option `min_id_length`: a whole number from 1, else the default. */
export function minIdLengthOf(options: unknown): number | 'invalid' {
  if (!isPlainObject(options) || options.min_id_length === undefined || options.min_id_length === null)
    return DEFAULT_MIN_ID_LENGTH;
  const v = options.min_id_length;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_STRING_LENGTH) return 'invalid';
  return v;
}
