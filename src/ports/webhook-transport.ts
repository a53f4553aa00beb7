// One HTTP POST of a webhook delivery. Retries, signing and the delivery log live in app/webhooks.ts.
export interface WebhookRequest {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/**
 * `status` for any HTTP answer (redirects are answers too: they are not followed). The answer's body is not
 * part of it: it may be an internal service's page, and the delivery log is readable by viewers.
 */
export type WebhookResponse =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'network'; readonly problem: string };

export interface WebhookTransport {
  post(request: WebhookRequest): Promise<WebhookResponse>;
}
