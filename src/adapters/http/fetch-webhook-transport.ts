// The WebhookTransport port over Node's fetch. Redirects are not followed (a 3xx is reported as the
// answer), so a receiver cannot bounce deliveries to an address the operator did not expect.
import type { WebhookRequest, WebhookResponse, WebhookTransport } from '../../ports/webhook-transport.ts';

const EXCERPT_CHARS = 200;

export class FetchWebhookTransport implements WebhookTransport {
  async post(request: WebhookRequest): Promise<WebhookResponse> {
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(request.timeoutMs),
      });
      let excerpt = '';
      try {
        excerpt = (await response.text()).slice(0, EXCERPT_CHARS);
      } catch {
        // The status is what counts; a body cut short changes nothing.
      }
      return { kind: 'response', status: response.status, excerpt };
    } catch (error) {
      const err = error as Error & { cause?: { code?: string; message?: string } };
      const problem =
        err.name === 'TimeoutError'
          ? `no answer within ${request.timeoutMs} ms`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
      return { kind: 'network', problem };
    }
  }
}
