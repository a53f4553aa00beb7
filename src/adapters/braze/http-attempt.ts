// One HTTP attempt: POST a JSON body with the global fetch, bounded by a per-attempt timeout and by the
// caller's signal, and turned into a plain outcome. No retry decision is taken here; classify.ts does that.

export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Headers; readonly body: unknown }
  /** No usable answer: connection refused/reset, DNS failure, timeout. Braze may or may not have applied it. */
  | { readonly kind: 'network'; readonly description: string }
  /** The caller's signal fired. */
  | { readonly kind: 'aborted' };

export async function postJson(
  url: string,
  payload: string,
  timeoutMs: number,
  callerSignal?: AbortSignal,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<AttemptOutcome> {
  if (callerSignal?.aborted) return { kind: 'aborted' };
  // One controller per attempt, fed by the timer and the caller's signal. A listener removed in `finally`
  // (rather than AbortSignal.any) keeps a long-lived caller signal from accumulating dependants.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCallerAbort = (): void => controller.abort();
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    const response = await fetch(url, {
      method: 'POST',
      // Partner keys travel in the body; a REST API key in the Authorization header (docs/design.md).
      headers: { 'content-type': 'application/json', accept: 'application/json', ...extraHeaders },
      body: payload,
      // Never follow a redirect: it would re-send the keys to another address, and a Braze REST endpoint
      // answers the call itself. A 3xx comes back as an answer that classify.ts fails, naming where it pointed.
      redirect: 'manual',
      signal: controller.signal,
    });
    // Reading the body is still under the same timeout: a server that sends headers and then stalls is a timeout.
    const text = await response.text();
    return { kind: 'response', status: response.status, headers: response.headers, body: parseBody(text) };
  } catch (error) {
    if (callerSignal?.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'network', description: `no answer within ${timeoutMs} ms` };
    return { kind: 'network', description: describeFetchError(error) };
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
  }
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** undici reports "fetch failed" with the real reason (ECONNRESET, ECONNREFUSED, ENOTFOUND…) in `cause`. */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
  }
  return error.message;
}
