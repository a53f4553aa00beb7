// One Braze REST call with everything around it that both delivery modes share: the body-size check, the
// request budget (the RequestLimiter port, keyed by the mode's budget key), the attempt itself, the run's
// request log with keys redacted, feeding Braze's rate-limit headers back to the limiter, and retries with
// waits computed by retry-policy.ts. What an answer means is decided by classify.ts with the mode's texts.
import type { CallOptions, RequestLogEntry } from '../../ports/destination.ts';
import { DeliveryError } from '../../ports/destination.ts';
import type { RequestBudget, RequestLimiter } from '../../ports/limiter.ts';
import { classify, type FailureTexts } from './classify.ts';
import { postJson } from './http-attempt.ts';
import { rateLimitedWaitMs, readRateLimitHeaders } from './rate-limit-headers.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs, validateRetryPolicy } from './retry-policy.ts';
import { keyFingerprint, redactJson } from './secrets.ts';
import { abortableSleep, type Sleep } from './sleep.ts';

/** Braze's general REST body limit is 4 MB (413 above); 4,000,000 is the conservative reading of "4 MB". */
export const MAX_BODY_BYTES = 4_000_000;

export interface BrazeLogger {
  warn(obj: object, msg: string): void;
}

export interface BrazeHttpOptions {
  readonly limiter: RequestLimiter;
  /** Missing fields take DEFAULT_RETRY_POLICY's values (8 attempts, 1 s doubling to 2 min, jitter 0.2). */
  readonly retry?: Partial<RetryPolicy>;
  /** Per HTTP attempt, body included. */
  readonly requestTimeoutMs?: number;
  readonly sleep?: Sleep;
  readonly now?: () => number;
  /** Source of jitter, in [0, 1). Injected by tests for exact delays. */
  readonly random?: () => number;
  readonly logger?: BrazeLogger;
}

export interface BrazeCall {
  readonly url: string;
  /** The customer's REST endpoint (named in messages). */
  readonly endpoint: string;
  readonly body: object;
  /** Identifiers (or objects) the call carries, for the request log. */
  readonly identifiers: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Every key the call carries, scrubbed from logs and messages. */
  readonly secrets: readonly string[];
  readonly budgetKey: string;
  readonly budget: RequestBudget;
  readonly texts: FailureTexts;
}

export interface BrazeAnswer {
  readonly requests: number;
  readonly retries: number;
  /** Per-item errors of the 2xx answer, as text. */
  readonly partialErrors: readonly string[];
  /** The 2xx body as parsed JSON (or text). */
  readonly body: unknown;
}

export class BrazeHttp {
  readonly retry: RetryPolicy;
  readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly limiter: RequestLimiter;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly logger: BrazeLogger | undefined;

  constructor(options: BrazeHttpOptions) {
    this.retry = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    if (!(this.timeoutMs > 0)) throw new RangeError('requestTimeoutMs must be > 0');
    this.limiter = options.limiter;
    this.sleep = options.sleep ?? abortableSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
  }

  async send(call: BrazeCall, opts: CallOptions | undefined, policy: RetryPolicy = this.retry): Promise<BrazeAnswer> {
    const signal = opts?.signal;
    const payload = JSON.stringify(call.body);
    const bytes = Buffer.byteLength(payload);
    if (bytes > MAX_BODY_BYTES) {
      throw new DeliveryError(
        'bad_request',
        `request body for ${call.url} is ${bytes} bytes; Braze accepts at most ${MAX_BODY_BYTES} (413 above)`,
      );
    }
    const redactedRequest = redactJson(call.body, call.secrets);
    let requests = 0;
    const stats = () => ({ requests, retries: Math.max(0, requests - 1) });
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
      await waiting(this.limiter.acquire(call.budgetKey, call.budget, signal, opts?.lane ?? 'bulk'));
      requests++;
      const startedAt = this.now();
      const outcome = await postJson(call.url, payload, this.timeoutMs, signal, call.headers);
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
            ? redactJson(outcome.body, call.secrets)
            : { error: outcome.kind === 'network' ? outcome.description : 'aborted by the caller' },
      });
      if (outcome.kind === 'aborted') throw aborted();
      if (outcome.kind === 'response') this.observe(call.budgetKey, outcome.status, outcome.headers, nowMs);

      const verdict = classify(outcome, {
        url: call.url,
        endpoint: call.endpoint,
        secrets: call.secrets,
        nowMs,
        texts: call.texts,
      });
      if (verdict.action === 'done')
        return {
          ...stats(),
          partialErrors: verdict.partialErrors,
          body: outcome.kind === 'response' ? outcome.body : null,
        };
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
          key: keyFingerprint(call.budgetKey),
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
  private observe(budgetKey: string, status: number, headers: Headers, nowMs: number): void {
    const seen = readRateLimitHeaders(headers, nowMs);
    const wait = status === 429 ? rateLimitedWaitMs(headers, nowMs) : undefined;
    this.limiter.observe(
      budgetKey,
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
}
