// Turns one HTTP outcome into a decision — done, retry (maybe after a server-given wait), or fail with a
// DeliveryError kind — following braze.md §1A "Responses" and §4, and Braze's API error pages
// (https://www.braze.com/docs/api/errors). Failure messages are written for the person who has to fix them.
import type { BrazeRegion } from '../../domain/braze-instances.ts';
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

export interface ClassifyContext {
  readonly url: string;
  /** The customer's REST endpoint, i.e. which Braze instance answered. */
  readonly endpoint: string;
  readonly partnerSlug: string;
  /** Region of the endpoint, and the region whose partner key was used (differs when US was the fallback). */
  readonly region: BrazeRegion;
  readonly partnerKeyRegion: BrazeRegion;
  readonly partnerKeyHint: string;
  readonly dataImportKeyHint: string;
  /** Both keys: Braze's texts are scrubbed of them before they reach a message. */
  readonly secrets: readonly string[];
  readonly nowMs: number;
}

/** Status codes worth another attempt (braze.md §4): locked (cause undocumented), rate-limited, server errors. */
function isRetryable(status: number): boolean {
  return status === 423 || status === 429 || status >= 500;
}

export function classify(outcome: Exclude<AttemptOutcome, { kind: 'aborted' }>, ctx: ClassifyContext): Verdict {
  if (outcome.kind === 'network') return { action: 'retry', problem: outcome.description, status: null };
  const { status, headers, body } = outcome;
  if (status >= 200 && status < 300) return { action: 'done', partialErrors: partialErrors(body, ctx) };
  const text = brazeText(body, ctx);
  if (isRetryable(status)) {
    // 429: Retry-After, else X-RateLimit-Reset. Other retryable answers: only an explicit Retry-After
    // (RFC 9110 allows it on 503); the rate-limit reset says nothing about when a 5xx will clear.
    const waitMs = status === 429 ? rateLimitedWaitMs(headers, ctx.nowMs) : retryAfterMs(headers, ctx.nowMs);
    return { action: 'retry', problem: `HTTP ${status} ${text}`, status, ...(waitMs !== undefined && { waitMs }) };
  }
  if (status === 401 || status === 403)
    return { action: 'fail', kind: 'credentials', message: credentialsMessage(status, text, ctx), status };
  return { action: 'fail', kind: 'bad_request', message: badRequestMessage(status, text, ctx), status };
}

/** A 2xx may still list per-item errors; they are recorded as partial failures, never dropped (braze.md §1A). */
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

function badRequestMessage(status: number, text: string, ctx: ClassifyContext): string {
  const hint =
    status === 404
      ? ` Check that ${ctx.endpoint} is a Braze REST endpoint and that the partner slug "${ctx.partnerSlug}" is right.`
      : status === 413
        ? " The request body is over Braze's 4 MB limit."
        : '';
  return `Braze rejected the request to ${ctx.url} (HTTP ${status}): ${text}.${hint}`;
}

const PARTNER_PAGE = 'Partner Integrations → Technology Partners';

/** braze.md §1A "Responses", 401: which of Braze's texts it is decides who must act, and how. */
function credentialsMessage(status: number, text: string, ctx: ClassifyContext): string {
  const lower = text.toLowerCase();
  const answered = `Braze instance ${ctx.endpoint} answered HTTP ${status} ${text}`;
  if (lower.includes('invalid client secret')) {
    return (
      `${answered}: the Data Import Key (ending ${ctx.dataImportKeyHint}) is wrong, was revoked, or belongs to another Braze instance. ` +
      `In Braze, open ${PARTNER_PAGE} → ${ctx.partnerSlug}, check that the REST endpoint shown there is ${ctx.endpoint}, ` +
      'generate a new Data Import Key and save it on this target.'
    );
  }
  if (lower.includes('invalid partner api key')) {
    const fallback =
      ctx.partnerKeyRegion === ctx.region
        ? ''
        : ` No key is configured for region ${ctx.region}, so the ${ctx.partnerKeyRegion} key was used; ${ctx.region} instances likely need their own.`;
    return (
      `${answered}: the partner API key of this service (ending ${ctx.partnerKeyHint}) is refused. ` +
      `This is operator configuration, not the customer's key: set BRAZE_PARTNER_API_KEY_${ctx.region} to the partner API key Braze issued for ${ctx.region} instances and restart.${fallback}`
    );
  }
  if (lower.includes('partner not enabled')) {
    return (
      `${answered}: the ${ctx.partnerSlug} integration is not enabled for the workspace of the Data Import Key (ending ${ctx.dataImportKeyHint}). ` +
      `In Braze, open ${PARTNER_PAGE} → ${ctx.partnerSlug} and enable the integration, or use a key from the workspace where it is enabled.`
    );
  }
  return (
    `${answered}. A key used on the wrong instance gets this answer: check that ${ctx.endpoint} is the instance the customer's Braze dashboard uses, ` +
    `then generate a new Data Import Key in Braze → ${PARTNER_PAGE} → ${ctx.partnerSlug} (the current one ends ${ctx.dataImportKeyHint}).`
  );
}
