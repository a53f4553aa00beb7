// Turns one HTTP outcome into a decision — done, retry (maybe after a server-given wait), or fail with a
// DeliveryError kind — following docs/design.md ("Braze answers") and Braze's API error pages
// (https://www.braze.com/docs/api/errors). Which words a failure is explained with belongs to the delivery
// mode (cohort-import-texts.ts, custom-attribute-texts.ts); the decision itself is the same for both.
import type { AttemptOutcome } from './http-attempt.ts';
import { rateLimitedWaitMs, retryAfterMs } from './rate-limit-headers.ts';
import { scrubSecrets } from './secrets.ts';

export type Verdict =
  | { readonly action: 'done'; readonly partialErrors: string[] }
  | { readonly action: 'retry'; readonly problem: string; readonly status: number | null; readonly waitMs?: number }
  | {
      readonly action: 'fail';
      readonly kind: 'bad_request' | 'credentials';
      readonly message: string;
      readonly status: number;
    };

/** A delivery mode's words for failures a person must act on. `text` is Braze's own answer, quoted. */
export interface FailureTexts {
  credentials(status: number, text: string): string;
  /** Appended to the generic "Braze rejected the request" sentence; '' for none. */
  badRequestHint(status: number, text: string): string;
}

export interface ClassifyContext {
  readonly url: string;
  /** The customer's REST endpoint, i.e. which Braze instance answered. */
  readonly endpoint: string;
  /** Every key of the call: Braze's texts are scrubbed of them before they reach a message. */
  readonly secrets: readonly string[];
  readonly nowMs: number;
  readonly texts: FailureTexts;
}

/** Status codes worth another attempt: locked (cause undocumented), rate-limited, server errors. */
function isRetryable(status: number): boolean {
  return status === 423 || status === 429 || status >= 500;
}

export function classify(outcome: Exclude<AttemptOutcome, { kind: 'aborted' }>, ctx: ClassifyContext): Verdict {
  if (outcome.kind === 'network') return { action: 'retry', problem: outcome.description, status: null };
  const { status, headers, body } = outcome;
  if (status >= 200 && status < 300) return { action: 'done', partialErrors: partialErrors(body, ctx) };
  if (status >= 300 && status < 400) {
    // Redirects are never followed (http-attempt.ts): the keys would travel to wherever it points.
    const location = headers.get('location');
    return {
      action: 'fail',
      kind: 'bad_request',
      status,
      message:
        `${ctx.endpoint} answered HTTP ${status}, a redirect ${location ? `to ${JSON.stringify(scrubSecrets(location, ctx.secrets))}` : 'without a Location'}, ` +
        "which is not followed: Braze's REST endpoints answer directly, so the target's endpoint is wrong " +
        '(use the REST endpoint of your Braze instance, e.g. https://rest.iad-01.braze.com).',
    };
  }
  const text = brazeText(body, ctx);
  if (isRetryable(status)) {
    // 429: Retry-After / X-Ratelimit-Retry-After, else X-RateLimit-Reset. Other retryable answers: only an
    // explicit Retry-After (RFC 9110 allows it on 503); the rate-limit reset says nothing about a 5xx.
    const waitMs = status === 429 ? rateLimitedWaitMs(headers, ctx.nowMs) : retryAfterMs(headers, ctx.nowMs);
    return { action: 'retry', problem: `HTTP ${status} ${text}`, status, ...(waitMs !== undefined && { waitMs }) };
  }
  if (status === 401 || status === 403)
    return { action: 'fail', kind: 'credentials', message: ctx.texts.credentials(status, text), status };
  return {
    action: 'fail',
    kind: 'bad_request',
    message: `Braze rejected the request to ${ctx.url} (HTTP ${status}): ${text}.${ctx.texts.badRequestHint(status, text)}`,
    status,
  };
}

/** A 2xx may still list per-item errors; they are recorded as failures, never dropped. */
function partialErrors(body: unknown, ctx: ClassifyContext): string[] {
  if (body === null || typeof body !== 'object' || !('errors' in body) || !Array.isArray(body.errors)) return [];
  return body.errors.map((e: unknown) => scrubSecrets(typeof e === 'string' ? e : JSON.stringify(e), ctx.secrets));
}

/** Braze's own words for a failure, quoted: its `message` (and `errors`), or the raw text, trimmed. */
function brazeText(body: unknown, ctx: ClassifyContext): string {
  let text: string;
  if (body !== null && typeof body === 'object') {
    const parts: string[] = [];
    if ('message' in body && typeof body.message === 'string') parts.push(body.message);
    if ('errors' in body && Array.isArray(body.errors))
      parts.push(...body.errors.map((e: unknown) => (typeof e === 'string' ? e : JSON.stringify(e))));
    text = parts.length > 0 ? parts.join('; ') : JSON.stringify(body);
  } else {
    text = typeof body === 'string' ? body.trim() : '';
  }
  if (text === '') return '(empty answer)';
  const short = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  return JSON.stringify(scrubSecrets(short, ctx.secrets));
}

/** The run error code of a final delivery failure; the same for both Braze delivery modes. */
export function brazeFailureCode(kind: 'bad_request' | 'credentials' | 'retries_exhausted'): string {
  if (kind === 'credentials') return 'braze_credentials';
  return kind === 'retries_exhausted' ? 'braze_unavailable' : 'braze_rejected';
}
