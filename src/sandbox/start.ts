// Starting and stopping a sandbox: build the state from options, listen, and hand back what a test needs.
import type { AddressInfo } from 'node:net';
import { createSandboxServer } from './server.ts';
import { SandboxState } from './state.ts';

export const DEFAULT_PARTNER_SLUG = 'cohort-sync';
export const DEFAULT_PARTNER_KEY = 'sandbox-partner-key';
/** docs/design.md §1: 250,000 requests per hour, assumed per Data Import Key. */
export const DEFAULT_REQUESTS_PER_HOUR = 250_000;

export interface SandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the sandbox accepts any key it created, so it should not face a network by accident. */
  host?: string;
  /** Path segment of the partner endpoints; default 'cohort-sync'. */
  partnerSlug?: string;
  /** Accepted `partner_api_key` values; default ['sandbox-partner-key']. */
  partnerKeys?: string[];
  /** Hourly budget per Data Import Key; default 250,000. */
  requestsPerHour?: number;
  /** Budget window (default an hour, as Braze counts); `requestsPerHour` then counts per window. For tests. */
  budgetWindowMs?: number;
  /** /users/track burst limit per REST API key; default 3,000 requests per 3,000 ms. */
  trackBurst?: { requests: number; windowMs: number };
  /** Clock in epoch milliseconds (rate-limit windows, log times); default Date.now. */
  now?: () => number;
}

export interface RunningSandbox {
  /** Base URL, e.g. http://127.0.0.1:4010 — use it as the Braze REST endpoint of a target. */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Direct access for tests: everything the admin API does, in-process. */
  state: SandboxState;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const partnerKeys = opts.partnerKeys ?? [DEFAULT_PARTNER_KEY];
  if (partnerKeys.length === 0) throw new RangeError('partnerKeys must hold at least one key');
  const state = new SandboxState({
    partnerSlug: opts.partnerSlug ?? DEFAULT_PARTNER_SLUG,
    partnerKeys,
    requestsPerHour: opts.requestsPerHour ?? DEFAULT_REQUESTS_PER_HOUR,
    ...(opts.budgetWindowMs !== undefined && { budgetWindowMs: opts.budgetWindowMs }),
    ...(opts.trackBurst ? { trackBurst: opts.trackBurst } : {}),
    now: opts.now ?? Date.now,
  });
  const { server, cancelDelays } = createSandboxServer(state);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      cancelDelays();
      server.close(() => resolve());
      // Keep-alive connections would otherwise hold close() open for seconds.
      server.closeAllConnections();
    });
    return closing;
  };

  return { url: `http://${urlHost(host)}:${port}`, port, close, state };
}

/** A host to put in a URL: wildcard addresses are reached through loopback, IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
