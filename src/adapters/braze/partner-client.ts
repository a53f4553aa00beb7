// The Braze partner cohort import client (braze.md §1A), behind the Destination port. The run executor drives
// it without knowing Braze: it gets a CallStats after a 2xx, or a DeliveryError whose kind is the retry
// decision (architecture.md, "Errors carry the retry decision"). Retries of transient faults happen here, with
// waits computed by retry-policy.ts and paced by the RateLimiter — policy is data passed in, not code.
import type {
  CallOptions,
  CallStats,
  Destination,
  DestinationTarget,
  MembershipChange,
  RequestLogEntry,
} from '../../ports/destination.ts';
import { DeliveryError } from '../../ports/destination.ts';
import { type ClassifyContext, classify } from './classify.ts';
import { postJson } from './http-attempt.ts';
import { type ChosenPartnerKey, choosePartnerKey, type PartnerKeys } from './partner-keys.ts';
import { rateLimitedWaitMs, readRateLimitHeaders } from './rate-limit-headers.ts';
import { InMemoryRateLimiter, type RateLimiter } from './rate-limiter.ts';
import {
  cohortChangesBody,
  cohortNameBody,
  identifierCount,
  MAX_BODY_BYTES,
  type PartnerCredentials,
} from './request-body.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs, validateRetryPolicy } from './retry-policy.ts';
import { keyFingerprint, keyHint, redactJson } from './secrets.ts';
import { abortableSleep, type Sleep } from './sleep.ts';

export interface BrazeLogger {
  warn(obj: object, msg: string): void;
}

export interface BrazePartnerDestinationOptions {
  /** Path segment Braze assigned to the partner: POST {endpoint}/partners/{slug}/cohorts. */
  readonly partnerSlug: string;
  /** Partner API key per region; US is the fallback for regions without one. */
  readonly partnerKeys: PartnerKeys;
  /** Missing fields take DEFAULT_RETRY_POLICY's values (8 attempts, 1 s doubling to 2 min, jitter 0.2). */
  readonly retry?: Partial<RetryPolicy>;
  /** Per HTTP attempt, body included. */
  readonly requestTimeoutMs?: number;
  /** Shared per-Data-Import-Key budget; defaults to an InMemoryRateLimiter on this client's clock. */
  readonly limiter?: RateLimiter;
  readonly sleep?: Sleep;
  readonly now?: () => number;
  /** Source of jitter, in [0, 1). Injected by tests for exact delays. */
  readonly random?: () => number;
  readonly logger?: BrazeLogger;
}

/** A throw-away cohort the connection test names; it shows up (empty) under the partner filter in Braze. */
export const CONNECTION_TEST_COHORT_ID = 'cohort-sync-connection-test';
const CONNECTION_TEST_COHORT_NAME = 'cohort-sync connection test';
/** A person is waiting on "Test connection": one retry for a blip, not the full policy of minutes. */
const CONNECTION_TEST_MAX_ATTEMPTS = 2;

interface PreparedCall {
  readonly target: DestinationTarget;
  readonly url: string;
  readonly body: object;
  readonly identifiers: number;
  readonly partnerKey: ChosenPartnerKey;
}

export class BrazePartnerDestination implements Destination {
  private readonly slug: string;
  private readonly partnerKeys: PartnerKeys;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly limiter: RateLimiter;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly logger: BrazeLogger | undefined;

  constructor(options: BrazePartnerDestinationOptions) {
    if (!/^[A-Za-z0-9._~-]+$/.test(options.partnerSlug)) {
      throw new RangeError(`partnerSlug ${JSON.stringify(options.partnerSlug)} must be a single URL path segment`);
    }
    this.slug = options.partnerSlug;
    this.partnerKeys = { ...options.partnerKeys };
    this.retry = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    if (!(this.timeoutMs > 0)) throw new RangeError('requestTimeoutMs must be > 0');
    this.sleep = options.sleep ?? abortableSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.limiter =
      options.limiter ??
      new InMemoryRateLimiter({ now: this.now, sleep: this.sleep, ...(this.logger && { logger: this.logger }) });
  }

  async upsertCohort(
    target: DestinationTarget,
    cohort: { id: string; name: string; createdAt: string },
    opts?: CallOptions,
  ): Promise<CallStats> {
    const call = this.prepare(target, '/cohorts', (credentials) => cohortNameBody(credentials, cohort), 0);
    return this.deliver(call, opts, this.retry);
  }

  async changeMembership(
    target: DestinationTarget,
    cohortId: string,
    change: MembershipChange,
    opts?: CallOptions,
  ): Promise<CallStats> {
    const call = this.prepare(
      target,
      '/cohorts/users',
      (credentials) => cohortChangesBody(credentials, cohortId, change),
      identifierCount(change),
    );
    // Nothing to change: Braze counts data points, and an empty cohort_changes has no documented meaning.
    if (call.identifiers === 0) return { requests: 0, retries: 0, partialErrors: [] };
    return this.deliver(call, opts, this.retry);
  }

  /** braze.md §4 "Test connection": a name call on a throw-away cohort id, reported in plain words. */
  async testConnection(target: DestinationTarget): Promise<{ ok: boolean; message: string }> {
    try {
      const call = this.prepare(
        target,
        '/cohorts',
        (credentials) =>
          cohortNameBody(credentials, {
            id: CONNECTION_TEST_COHORT_ID,
            name: CONNECTION_TEST_COHORT_NAME,
            createdAt: new Date(this.now()).toISOString(),
          }),
        0,
      );
      const stats = await this.deliver(call, undefined, {
        ...this.retry,
        maxAttempts: Math.min(this.retry.maxAttempts, CONNECTION_TEST_MAX_ATTEMPTS),
      });
      const warnings = stats.partialErrors.length > 0 ? ` Braze also reported: ${stats.partialErrors.join('; ')}` : '';
      return {
        ok: true,
        message: `Connected to ${target.endpoint}: Braze accepted the partner API key and the Data Import Key.${warnings}`,
      };
    } catch (error) {
      if (!(error instanceof DeliveryError)) throw error;
      if (error.kind === 'retries_exhausted')
        return { ok: false, message: `cannot reach ${target.endpoint}: ${error.message}` };
      return { ok: false, message: error.message };
    }
  }

  private prepare(
    target: DestinationTarget,
    path: string,
    buildBody: (credentials: PartnerCredentials) => object,
    identifiers: number,
  ): PreparedCall {
    const base = target.endpoint.trim().replace(/\/+$/, '');
    let parsed: URL;
    try {
      parsed = new URL(base);
    } catch {
      throw new DeliveryError(
        'bad_request',
        `${JSON.stringify(target.endpoint)} is not a valid Braze REST endpoint URL`,
      );
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new DeliveryError('bad_request', `${target.endpoint} is not an http(s) URL`);
    }
    if (target.dataImportKey === '') {
      throw new DeliveryError(
        'credentials',
        `No Data Import Key is stored for ${target.endpoint}: generate one in Braze → Partner Integrations → Technology Partners → ${this.slug}.`,
      );
    }
    const partnerKey = choosePartnerKey(this.partnerKeys, base);
    const body = buildBody({ partnerApiKey: partnerKey.key, clientSecret: target.dataImportKey });
    return { target, url: `${base}/partners/${this.slug}${path}`, body, identifiers, partnerKey };
  }

  private async deliver(call: PreparedCall, opts: CallOptions | undefined, policy: RetryPolicy): Promise<CallStats> {
    const signal = opts?.signal;
    const payload = JSON.stringify(call.body);
    const bytes = Buffer.byteLength(payload);
    if (bytes > MAX_BODY_BYTES) {
      throw new DeliveryError(
        'bad_request',
        `request body for ${call.url} is ${bytes} bytes; Braze accepts at most ${MAX_BODY_BYTES} (413 above)`,
      );
    }
    const secrets = [call.partnerKey.key, call.target.dataImportKey];
    const limiterKey = call.target.dataImportKey;
    const redactedRequest = redactJson(call.body, secrets);
    let requests = 0;
    const stats = (partialErrors: string[] = []): CallStats => ({
      requests,
      retries: Math.max(0, requests - 1),
      partialErrors,
    });
    const aborted = (): DeliveryError =>
      new DeliveryError('aborted', `stopped before Braze acknowledged the request to ${call.url}`, null, stats());
    // Waits (limiter, back-off) reject when the caller aborts; that must surface as `aborted`, nothing else.
    const waiting = async (wait: Promise<void>): Promise<void> => {
      try {
        await wait;
      } catch (error) {
        if (signal?.aborted) throw aborted();
        throw error;
      }
    };

    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw aborted();
      await waiting(this.limiter.acquire(limiterKey, signal));
      requests++;
      const startedAt = this.now();
      const outcome = await postJson(call.url, payload, this.timeoutMs, signal);
      const nowMs = this.now();
      this.record(opts, {
        at: new Date(startedAt).toISOString(),
        endpoint: call.url,
        identifiers: call.identifiers,
        status: outcome.kind === 'response' ? outcome.status : null,
        latencyMs: Math.max(0, nowMs - startedAt),
        attempt,
        request: redactedRequest,
        response:
          outcome.kind === 'response'
            ? redactJson(outcome.body, secrets)
            : { error: outcome.kind === 'network' ? outcome.description : 'aborted by the caller' },
      });
      if (outcome.kind === 'aborted') throw aborted();
      if (outcome.kind === 'response') this.observe(limiterKey, outcome.status, outcome.headers, nowMs);

      const verdict = classify(outcome, this.context(call, secrets, nowMs));
      if (verdict.action === 'done') return stats(verdict.partialErrors);
      if (verdict.action === 'fail') throw new DeliveryError(verdict.kind, verdict.message, verdict.status, stats());
      if (attempt >= policy.maxAttempts) {
        throw new DeliveryError(
          'retries_exhausted',
          `Braze did not accept the request to ${call.url} after ${attempt} attempt${attempt === 1 ? '' : 's'}; last problem: ${verdict.problem}`,
          verdict.status,
          stats(),
        );
      }
      const delayMs = retryDelayMs(policy, attempt, verdict.waitMs, this.random);
      this.logger?.warn(
        {
          url: call.url,
          dataImportKey: keyFingerprint(limiterKey),
          attempt,
          status: verdict.status,
          problem: verdict.problem,
          delayMs,
        },
        'Braze request failed; retrying',
      );
      await waiting(this.sleep(delayMs, signal));
    }
  }

  /** Feeds the limiter; on a 429 the reset it is told is the wait the answer asked for (Retry-After first). */
  private observe(limiterKey: string, status: number, headers: Headers, nowMs: number): void {
    const seen = readRateLimitHeaders(headers, nowMs);
    const wait = status === 429 ? rateLimitedWaitMs(headers, nowMs) : undefined;
    this.limiter.observe(
      limiterKey,
      wait === undefined ? seen : { ...seen, resetEpochSeconds: (nowMs + wait) / 1000 },
      status,
    );
  }

  private record(opts: CallOptions | undefined, entry: RequestLogEntry): void {
    if (!opts?.onRequest) return;
    try {
      opts.onRequest(entry);
    } catch (error) {
      // The request log is a diagnostic; a failing sink must not turn a delivered batch into a failed one.
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'request log callback threw');
    }
  }

  private context(call: PreparedCall, secrets: readonly string[], nowMs: number): ClassifyContext {
    return {
      url: call.url,
      endpoint: call.target.endpoint,
      partnerSlug: this.slug,
      region: call.partnerKey.region,
      partnerKeyRegion: call.partnerKey.keyRegion,
      partnerKeyHint: keyHint(call.partnerKey.key),
      dataImportKeyHint: keyHint(call.target.dataImportKey),
      secrets,
      nowMs,
    };
  }
}
