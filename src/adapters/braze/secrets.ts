// Handling of Braze keys outside the request body. Partner API keys and Data Import Keys are bearer secrets
// sent in the JSON body (docs/design.md §1 "Keys go in the body"), so anything we log, store in the request log
// or show to a person must have them removed first.
import { createHash } from 'node:crypto';

export const REDACTED = '[redacted]';

/** Body fields that hold a key (docs/design.md §1: `partner_api_key`, `client_secret`). */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['partner_api_key', 'client_secret']);

/** What a person may see of a key: enough to tell two keys apart, never enough to use one. */
export function keyHint(key: string): string {
  // Very short values are almost certainly a paste error; showing 4 of 6 characters would leak most of it.
  return key.length >= 12 ? `…${key.slice(-4)}` : '(too short to be a real key)';
}

/** Stable, non-reversible id for a key in log lines and in-memory maps (the limiter keys by it). */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Replaces every occurrence of the given secrets in a text (Braze echoes the client secret in some 401s). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // includes() first: the request log scrubs every identifier of a body (1,000 per batch), and split/join
    // allocates even when the secret is absent (~0.7 ms of worker CPU per request; docs/benchmarks.md).
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * Deep copy of a JSON value with key fields replaced by "[redacted]" and any stray occurrence of a secret in
 * another string scrubbed — used for the per-run request log.
 */
export function redactJson(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return scrubSecrets(value, secrets);
  if (Array.isArray(value)) return value.map((v) => redactJson(v, secrets));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_FIELDS.has(k) ? REDACTED : redactJson(v, secrets);
    }
    return out;
  }
  return value;
}
