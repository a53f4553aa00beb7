// Signed webhooks (docs/product.md §5, beyond the seed): per-project URL and secret, the same events as the
// mails (run.succeeded, run.failed, run.recovered), HMAC-SHA256 signatures, retries with exponential
// back-off, and a delivery log. The secret is encrypted at rest and never returned or logged.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { classifyAddress, hostListed, isLocalHostName } from '../domain/ip-address.ts';
import type { Cohort, Project, Run, Sync, Target } from '../domain/model.ts';
import type { Clock } from '../ports/clock.ts';
import type { WebhookDelivery, WebhookEvent } from '../ports/notification-store.ts';
import type { Page } from '../ports/store.ts';
import type { WebhookTransport } from '../ports/webhook-transport.ts';
import { cursorScope, openCursor, sealCursor } from './cursors.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid } from './errors.ts';
import { requireProject } from './projects.ts';

export const SIGNATURE_HEADER = 'X-CohortSync-Signature';
export const EVENT_HEADER = 'X-CohortSync-Event';
export const DELIVERY_HEADER = 'X-CohortSync-Delivery';
export const MIN_SECRET_LENGTH = 16;
const MAX_URL_LENGTH = 2048;

/**
 * Operator settings for webhook URLs (WEBHOOK_ALLOWED_HOSTS, WEBHOOK_ALLOW_PRIVATE). By default a webhook
 * may reach public addresses only; the transport enforces that on the address it connects to, and
 * checkWebhookUrl refuses up front what is already known to be local (IP literals, localhost).
 */
export interface WebhookUrlPolicy {
  /**
   * Hosts the operator allows even though they are (or resolve to) private, loopback or link-local
   * addresses: `hooks.internal` matches that host exactly, `.internal` any subdomain of it.
   */
  readonly allowedHosts?: readonly string[];
  /** Any address may be reached (WEBHOOK_ALLOW_PRIVATE=true). */
  readonly allowPrivate?: boolean;
  /** Only https:// URLs (default false: http:// is accepted too). */
  readonly requireHttps?: boolean;
}

export interface WebhookRetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Per attempt. */
  readonly timeoutMs: number;
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  timeoutMs: 10_000,
};

/** Reading and changing a project's webhook settings; the secret is sealed with `secrets`. */
export type WebhookSettingsDeps = Uses<'secrets' | 'clock', 'projects'>;
/** Delivering: the project's URL and secret, the delivery log, ids, the clock and the log for failures. */
export type WebhookSenderDeps = Uses<'secrets' | 'newId' | 'clock' | 'logger', 'projects' | 'webhookDeliveries'>;

// ---------------------------------------------------------------------------------------------------------
// Signing

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * What a receiver does: recompute the HMAC over the raw body, compare in constant time, and refuse old
 * timestamps (replays). Exported for tests and as the reference for docs/notifications.md.
 */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  header: string | undefined,
  opts: { nowSeconds: number; toleranceSeconds?: number },
): boolean {
  if (!header) return false;
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim();
    parts.set(key, [...(parts.get(key) ?? []), item.slice(eq + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t) || Math.abs(opts.nowSeconds - t) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex'));
  return (parts.get('v1') ?? []).some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Settings

export function checkWebhookUrl(url: string, policy: WebhookUrlPolicy = {}): string {
  const text = url.trim();
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw invalid([{ path: 'url', message: 'must be an absolute http:// or https:// URL' }]);
  }
  if (text.length > MAX_URL_LENGTH)
    throw invalid([{ path: 'url', message: `must be at most ${MAX_URL_LENGTH} characters` }]);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw invalid([{ path: 'url', message: 'must be an http:// or https:// URL' }]);
  if (policy.requireHttps && parsed.protocol !== 'https:')
    throw invalid([{ path: 'url', message: 'the operator allows only https:// webhook URLs' }]);
  // Credentials belong in the signing secret, not in a URL that is shown back and stored in the delivery log.
  if (parsed.username !== '' || parsed.password !== '')
    throw invalid([
      { path: 'url', message: 'must not contain a user name or password; the secret signs each delivery' },
    ]);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivate && !hostListed(host, policy.allowedHosts ?? [])) {
    const cls = isLocalHostName(host) ? 'loopback' : classifyAddress(host);
    if (cls !== null && cls !== 'public')
      throw new AppError(
        422,
        'webhook_address_not_allowed',
        `webhooks may not go to ${parsed.hostname}, a ${cls} address; the operator can allow it with WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOW_PRIVATE=true`,
      );
  }
  return parsed.toString();
}

export interface WebhookSettings {
  readonly url: string | null;
  /** `…last4` of the secret, like key hints; the secret itself never comes back. */
  readonly secretHint?: string;
}

export async function getWebhook(deps: WebhookSettingsDeps, projectId: string): Promise<WebhookSettings> {
  const project = await requireProject(deps, projectId);
  if (!project.webhookUrl) return { url: null };
  const sealed = await deps.store.projects.webhookSecretEnc(projectId);
  return sealed
    ? { url: project.webhookUrl, secretHint: deps.secrets.hint(deps.secrets.decrypt(sealed)) }
    : { url: project.webhookUrl };
}

/** Sets the project's webhook. `secret` may be left out to keep the stored one when only the URL changes. */
export async function setWebhook(
  deps: WebhookSettingsDeps,
  projectId: string,
  input: { url: string; secret?: string | undefined },
  policy: WebhookUrlPolicy = {},
): Promise<WebhookSettings> {
  await requireProject(deps, projectId);
  const url = checkWebhookUrl(input.url, policy);
  const secret = input.secret;
  if (secret === undefined) {
    if (!(await deps.store.projects.webhookSecretEnc(projectId)))
      throw invalid([{ path: 'secret', message: 'a signing secret is required' }]);
  } else if (secret.length < MIN_SECRET_LENGTH || /\s/.test(secret)) {
    throw invalid([
      {
        path: 'secret',
        message: `must be at least ${MIN_SECRET_LENGTH} characters with no spaces (e.g. \`openssl rand -hex 32\`)`,
      },
    ]);
  }
  await deps.store.projects.update(
    projectId,
    { webhookUrl: url, ...(secret !== undefined ? { webhookSecretEnc: deps.secrets.encrypt(secret) } : {}) },
    deps.clock.now().toISOString(),
  );
  return getWebhook(deps, projectId);
}

export async function clearWebhook(deps: Uses<'clock', 'projects'>, projectId: string): Promise<void> {
  await requireProject(deps, projectId);
  await deps.store.projects.update(
    projectId,
    { webhookUrl: null, webhookSecretEnc: null },
    deps.clock.now().toISOString(),
  );
}

export async function listWebhookDeliveries(
  deps: Uses<'secrets', 'projects' | 'webhookDeliveries'>,
  projectId: string,
  opts: { limit?: number; cursor?: string | null } = {},
): Promise<Page<WebhookDelivery>> {
  await requireProject(deps, projectId);
  const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 50), 1), 500);
  const scope = cursorScope('webhook-deliveries', projectId);
  const page = await deps.store.webhookDeliveries.list(projectId, limit, openCursor(deps, scope, opts.cursor));
  return { items: page.items, nextCursor: sealCursor(deps, scope, page.nextCursor) };
}

// ---------------------------------------------------------------------------------------------------------
// Payloads

export interface RunPayloadParts {
  readonly project: Pick<Project, 'id' | 'name'>;
  readonly sync: Sync;
  readonly run: Run;
  readonly cohort: Pick<Cohort, 'id' | 'name'>;
  readonly target: Pick<Target, 'id' | 'name'>;
}

/** The body of a run event, besides `id`, `event` and `createdAt`. Run is api.md's Run shape. */
export function runPayload(p: RunPayloadParts) {
  const { run, sync } = p;
  return {
    project: { id: p.project.id, name: p.project.name },
    sync: {
      id: sync.id,
      cohortId: sync.cohortId,
      targetId: sync.targetId,
      cadence: sync.cadence,
      brazeCohortId: sync.audienceRef,
    },
    run: {
      id: run.id,
      syncId: run.syncId,
      status: run.status,
      trigger: run.trigger,
      queuedAt: run.queuedAt,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      counts: run.counts,
      identifiers: run.identifiers,
      // Succeeded while some members failed: the UI's "Partial"; they are sent again by the next run.
      partial: run.status === 'succeeded' && run.counts.failed > 0,
      requests: run.requests,
      retries: run.retries,
      ...(run.error ? { error: run.error } : {}),
    },
    cohort: { id: p.cohort.id, name: p.cohort.name },
    target: { id: p.target.id, name: p.target.name },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Delivery

export interface WebhookSenderOptions {
  readonly transport: WebhookTransport;
  readonly retry?: Partial<WebhookRetryPolicy>;
  /** Waits between attempts; tests pass one that returns at once. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** 0..1, for jitter (each wait is 50–100% of the exponential step). */
  readonly random?: () => number;
  readonly clock?: Clock;
  readonly userAgent?: string;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** 408, 425, 429 and 5xx answers and network faults are worth another attempt; other answers are final. */
export const isRetryableStatus = (status: number) =>
  status === 408 || status === 425 || status === 429 || status >= 500;

export function webhookBackoffMs(policy: WebhookRetryPolicy, attempt: number, random: () => number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step * (0.5 + random() / 2));
}

export class WebhookSender {
  private readonly policy: WebhookRetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly deps: WebhookSenderDeps,
    private readonly opts: WebhookSenderOptions,
  ) {
    this.policy = { ...DEFAULT_WEBHOOK_RETRY, ...opts.retry };
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
  }

  private get clock(): Clock {
    return this.opts.clock ?? this.deps.clock;
  }

  /**
   * Delivers one event to the project's webhook, retrying per the policy; resolves with the final
   * delivery record, or null when the project has no webhook. Never throws for a receiver's failure.
   */
  async deliver(
    projectId: string,
    event: WebhookEvent,
    payload: object,
    opts: { runId?: string; maxAttempts?: number } = {},
  ): Promise<WebhookDelivery | null> {
    const maxAttempts = opts.maxAttempts ?? this.policy.maxAttempts;
    const deps = this.deps;
    const project = await deps.store.projects.get(projectId);
    const sealed = project?.webhookUrl ? await deps.store.projects.webhookSecretEnc(projectId) : null;
    if (!project?.webhookUrl || !sealed) return null;
    const url = project.webhookUrl;
    const secret = deps.secrets.decrypt(sealed);
    const created = await deps.store.webhookDeliveries.create({
      id: deps.newId('whd'),
      projectId,
      event,
      url,
      runId: opts.runId ?? null,
      now: this.clock.now().toISOString(),
    });
    const body = JSON.stringify({ id: created.id, event, createdAt: created.createdAt, ...payload });
    const host = safeHost(url);
    for (let attempt = 1; ; attempt++) {
      const t = Math.floor(this.clock.now().getTime() / 1000);
      const outcome = await this.opts.transport.post({
        url,
        body,
        timeoutMs: this.policy.timeoutMs,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.opts.userAgent ?? 'cohort-sync-webhooks/1',
          [EVENT_HEADER]: event,
          [DELIVERY_HEADER]: created.id,
          [SIGNATURE_HEADER]: signWebhook(secret, body, t),
        },
      });
      const delivered = outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300;
      const responseStatus = outcome.kind === 'response' ? outcome.status : null;
      const lastError = delivered
        ? null
        : outcome.kind === 'network'
          ? outcome.problem
          : `the receiver answered HTTP ${outcome.status}`;
      const retryable = !delivered && (outcome.kind === 'network' || isRetryableStatus(outcome.status));
      const final = delivered || !retryable || attempt >= maxAttempts;
      const status = delivered ? 'delivered' : final ? 'failed' : 'pending';
      await deps.store.webhookDeliveries.recordAttempt(created.id, {
        status,
        attempts: attempt,
        responseStatus,
        lastError,
        now: this.clock.now().toISOString(),
      });
      if (final) {
        if (!delivered)
          deps.logger.warn(
            { deliveryId: created.id, projectId, event, host, attempts: attempt, responseStatus },
            'webhook delivery failed',
          );
        return {
          ...created,
          status,
          attempts: attempt,
          responseStatus,
          lastError,
          updatedAt: this.clock.now().toISOString(),
        };
      }
      await this.sleep(webhookBackoffMs(this.policy, attempt, this.random));
    }
  }
}

/** Sends a `webhook.test` event to the project's webhook now, once (no retries), and reports the delivery. */
export async function sendTestWebhook(
  deps: Uses<never, 'projects'>,
  sender: WebhookSender,
  projectId: string,
): Promise<WebhookDelivery> {
  const project = await requireProject(deps, projectId);
  if (!project.webhookUrl) throw new AppError(422, 'no_webhook', 'the project has no webhook; set one first');
  const delivery = await sender.deliver(
    projectId,
    'webhook.test',
    { project: { id: project.id, name: project.name } },
    { maxAttempts: 1 },
  );
  if (!delivery) throw new AppError(422, 'no_webhook', 'the project has no webhook; set one first');
  return delivery;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unparseable';
  }
}
