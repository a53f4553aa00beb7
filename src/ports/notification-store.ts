// Repositories of notifications: per-sync notification state (what was mailed when, the pending real-time
// digest) and the webhook delivery log. Both live in the store so they survive restarts and are shared by
// every process.
import type { DigestSummary, NotificationState, NotificationStateFields } from '../domain/notification-policy.ts';
import type { Page } from './page.ts';

export type { DigestSummary, NotificationState, NotificationStateFields };

export interface NotificationStateRepo {
  get(syncId: string): Promise<NotificationState | undefined>;
  /**
   * Compare-and-set: writes only if the stored version is still `expectedVersion` (0: only if no row
   * exists yet). Returns false when another process changed it meanwhile; the caller re-reads and retries.
   */
  save(state: NotificationStateFields, expectedVersion: number, now: string): Promise<boolean>;
  /** States with a pending digest whose last digest is older than `lastDigestBefore` (or never sent). */
  dueDigests(lastDigestBefore: string, limit: number): Promise<NotificationState[]>;
  delete(syncId: string): Promise<void>;
}

export type WebhookEvent = 'run.succeeded' | 'run.failed' | 'run.recovered' | 'webhook.test';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  readonly id: string;
  readonly projectId: string;
  readonly event: WebhookEvent;
  readonly url: string;
  readonly runId: string | null;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  /** HTTP status of the last answer, null when none came (network error, timeout). */
  readonly responseStatus: number | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface WebhookDeliveriesRepo {
  create(d: {
    id: string;
    projectId: string;
    event: WebhookEvent;
    url: string;
    runId: string | null;
    now: string;
  }): Promise<WebhookDelivery>;
  recordAttempt(
    id: string,
    a: {
      status: DeliveryStatus;
      attempts: number;
      responseStatus: number | null;
      lastError: string | null;
      now: string;
    },
  ): Promise<void>;
  /** Newest first. */
  list(projectId: string, limit: number, cursor: string | null): Promise<Page<WebhookDelivery>>;
  prune(before: string): Promise<number>;
}
