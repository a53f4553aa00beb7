// Starting and stopping a sandbox: build the state from options, listen, and hand back what a test needs.
import type { AddressInfo } from 'node:net';
import { resolveSandboxAdminToken } from './admin-auth.ts';
import { createSandboxServer } from './server.ts';
import { persistState } from './snapshot.ts';
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
  /**
   * Bearer token the admin API (/sandbox/…) wants. Unset: none on loopback; beyond loopback one is read
   * from or generated into `<dataDir>/sandbox-admin-token` (in memory only without `dataDir`).
   */
  adminToken?: string;
  /** Keeps workspaces, users, cohorts and keys in `<dataDir>/sandbox-state.json` across restarts. */
  dataDir?: string;
  /** Delay between a change and its snapshot write (default 1 s). For tests. */
  snapshotDebounceMs?: number;
}

export interface RunningSandbox {
  /** Base URL, e.g. http://127.0.0.1:4010 — use it as the Braze REST endpoint of a target. */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Direct access for tests: everything the admin API does, in-process. */
  state: SandboxState;
  /** The token the admin API wants, or null when it is open (loopback, none configured). */
  adminToken: string | null;
  /** Set when this start generated the admin token into a file: say where, never the token. */
  adminTokenGeneratedInto?: string;
  /** The snapshot file, when state is kept on disk (`dataDir`). */
  stateFile?: string;
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
  const admin = resolveSandboxAdminToken({ host, configured: opts.adminToken, dataDir: opts.dataDir });
  const persistence =
    opts.dataDir === undefined
      ? undefined
      : persistState(state, opts.dataDir, {
          ...(opts.snapshotDebounceMs !== undefined && { debounceMs: opts.snapshotDebounceMs }),
        });
  const { server, cancelDelays } = createSandboxServer(state, admin.token);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    persistence?.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      cancelDelays();
      server.close(() => {
        try {
          persistence?.close(); // after the last request, so its change is in the final write
          resolve();
        } catch (error) {
          reject(error as Error);
        }
      });
      // Keep-alive connections would otherwise hold close() open for seconds.
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    close,
    state,
    adminToken: admin.token,
    ...(admin.generatedInto !== undefined && { adminTokenGeneratedInto: admin.generatedInto }),
    ...(persistence && { stateFile: persistence.file }),
  };
}

/** A host to put in a URL: wildcard addresses are reached through loopback, IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
