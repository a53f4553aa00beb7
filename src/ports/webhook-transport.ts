// One HTTP POST of a webhook delivery. Retries, signing and the delivery log live in app/webhooks.ts.
export interface WebhookRequest {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** `status` for any HTTP answer (redirects are answers too: they are not followed). */
export type WebhookResponse =
  | { readonly kind: 'response'; readonly status: number; readonly excerpt: string }
  | { readonly kind: 'network'; readonly problem: string };

export interface WebhookTransport {
  post(request: WebhookRequest): Promise<WebhookResponse>;
}
