// Notification state and the webhook delivery log (migration 0002_notifications). Their row types stay in
// this file (added to the shared Database type with withTables) so the core schema is untouched.
import type { Kysely, Selectable } from 'kysely';
import type {
  DeliveryStatus,
  DigestSummary,
  NotificationState,
  NotificationStateFields,
  NotificationStateRepo,
  WebhookDeliveriesRepo,
  WebhookDelivery,
  WebhookEvent,
} from '../../ports/notification-store.ts';
import { decodeCursor, encodeCursor, parseJson, toJson } from './json.ts';
import type { Database } from './schema.ts';

export type NotificationStateTable = {
  sync_id: string;
  project_id: string;
  last_status: string | null;
  last_error_code: string | null;
  failing_since: string | null;
  consecutive_failures: number;
  last_failure_mail_at: string | null;
  suppressed_failures: number;
  last_digest_at: string | null;
  pending_digest: string | null; // JSON DigestSummary
  version: number;
  updated_at: string;
};

export type WebhookDeliveriesTable = {
  id: string;
  project_id: string;
  event: string;
  url: string;
  run_id: string | null;
  status: string;
  attempts: number;
  response_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
};

export type NotificationTables = {
  notification_state: NotificationStateTable;
  webhook_deliveries: WebhookDeliveriesTable;
};

export type NotificationDb = Kysely<Database & NotificationTables>;

export const withNotificationTables = (db: Kysely<Database>): NotificationDb => db.withTables<NotificationTables>();

const toState = (r: Selectable<NotificationStateTable>): NotificationState => ({
  syncId: r.sync_id,
  projectId: r.project_id,
  lastStatus: r.last_status === 'succeeded' || r.last_status === 'failed' ? r.last_status : null,
  lastErrorCode: r.last_error_code,
  failingSince: r.failing_since,
  consecutiveFailures: Number(r.consecutive_failures),
  lastFailureMailAt: r.last_failure_mail_at,
  suppressedFailures: Number(r.suppressed_failures),
  lastDigestAt: r.last_digest_at,
  pendingDigest: parseJson<DigestSummary | null>(r.pending_digest, null),
  version: Number(r.version),
});

const stateColumns = (s: NotificationStateFields) => ({
  project_id: s.projectId,
  last_status: s.lastStatus,
  last_error_code: s.lastErrorCode,
  failing_since: s.failingSince,
  consecutive_failures: s.consecutiveFailures,
  last_failure_mail_at: s.lastFailureMailAt,
  suppressed_failures: s.suppressedFailures,
  last_digest_at: s.lastDigestAt,
  pending_digest: s.pendingDigest === null ? null : toJson(s.pendingDigest),
});

export class KyselyNotificationStateRepo implements NotificationStateRepo {
  private readonly db: NotificationDb;

  constructor(db: Kysely<Database>) {
    this.db = withNotificationTables(db);
  }

  async get(syncId: string) {
    const row = await this.db
      .selectFrom('notification_state')
      .selectAll()
      .where('sync_id', '=', syncId)
      .executeTakeFirst();
    return row && toState(row);
  }

  async save(state: NotificationStateFields, expectedVersion: number, now: string) {
    if (expectedVersion === 0) {
      const r = await this.db
        .insertInto('notification_state')
        .values({ sync_id: state.syncId, ...stateColumns(state), version: 1, updated_at: now })
        .onConflict((oc) => oc.column('sync_id').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    }
    const r = await this.db
      .updateTable('notification_state')
      .set((eb) => ({ ...stateColumns(state), version: eb('version', '+', 1), updated_at: now }))
      .where('sync_id', '=', state.syncId)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async dueDigests(lastDigestBefore: string, limit: number) {
    const rows = await this.db
      .selectFrom('notification_state')
      .selectAll()
      .where('pending_digest', 'is not', null)
      .where((eb) => eb.or([eb('last_digest_at', 'is', null), eb('last_digest_at', '<=', lastDigestBefore)]))
      .orderBy('sync_id')
      .limit(limit)
      .execute();
    return rows.map(toState);
  }

  async delete(syncId: string) {
    await this.db.deleteFrom('notification_state').where('sync_id', '=', syncId).execute();
  }
}

const toDelivery = (r: Selectable<WebhookDeliveriesTable>): WebhookDelivery => ({
  id: r.id,
  projectId: r.project_id,
  event: r.event as WebhookEvent,
  url: r.url,
  runId: r.run_id,
  status: r.status as DeliveryStatus,
  attempts: Number(r.attempts),
  responseStatus: r.response_status === null ? null : Number(r.response_status),
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class KyselyWebhookDeliveriesRepo implements WebhookDeliveriesRepo {
  private readonly db: NotificationDb;

  constructor(db: Kysely<Database>) {
    this.db = withNotificationTables(db);
  }

  async create(d: {
    id: string;
    projectId: string;
    event: WebhookEvent;
    url: string;
    runId: string | null;
    now: string;
  }) {
    const row = await this.db
      .insertInto('webhook_deliveries')
      .values({
        id: d.id,
        project_id: d.projectId,
        event: d.event,
        url: d.url,
        run_id: d.runId,
        status: 'pending',
        attempts: 0,
        response_status: null,
        last_error: null,
        created_at: d.now,
        updated_at: d.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDelivery(row);
  }

  async recordAttempt(
    id: string,
    a: {
      status: DeliveryStatus;
      attempts: number;
      responseStatus: number | null;
      lastError: string | null;
      now: string;
    },
  ) {
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: a.status,
        attempts: a.attempts,
        response_status: a.responseStatus,
        last_error: a.lastError,
        updated_at: a.now,
      })
      .where('id', '=', id)
      .execute();
  }

  async list(projectId: string, limit: number, cursor: string | null) {
    const after = decodeCursor<[string, string]>(cursor);
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('project_id', '=', projectId);
    if (after)
      q = q.where((eb) =>
        eb.or([eb('created_at', '<', after[0]), eb.and([eb('created_at', '=', after[0]), eb('id', '<', after[1])])]),
      );
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toDelivery),
      nextCursor: rows.length > limit && last ? encodeCursor([last.created_at, last.id]) : null,
    };
  }

  async prune(before: string) {
    const r = await this.db
      .deleteFrom('webhook_deliveries')
      .where('created_at', '<', before)
      .where('status', '!=', 'pending')
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
