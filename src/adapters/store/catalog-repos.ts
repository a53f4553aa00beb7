// Projects, tokens, targets and cohorts: plain rows mapped to domain entities.
import type { Kysely, Selectable } from 'kysely';
import type { Mapping } from '../../domain/mapping.ts';
import type { AttributeSettings, Cohort, CohortType, DeliveryMode, Project, Target } from '../../domain/model.ts';
import type { CohortsRepo, ProjectsRepo, TargetsRepo, TokenRecord, TokensRepo } from '../../ports/store.ts';
import { parseJson, toJson } from './json.ts';
import type { BrazeTargetsTable, CohortsTable, Database, ProjectsTable } from './schema.ts';

const toProject = (r: Selectable<ProjectsTable>): Project => ({
  id: r.id,
  name: r.name,
  brazeEnabled: r.braze_enabled === 1,
  notificationEmails: parseJson<string[]>(r.notification_emails, []),
  webhookUrl: r.webhook_url,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class KyselyProjectsRepo implements ProjectsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(p: {
    id: string;
    name: string;
    ingestKeyEnc: string;
    ingestKeyHash: string;
    now: string;
  }): Promise<Project> {
    const row = await this.db
      .insertInto('projects')
      .values({
        id: p.id,
        name: p.name,
        ingest_key_enc: p.ingestKeyEnc,
        ingest_key_hash: p.ingestKeyHash,
        braze_enabled: 0,
        notification_emails: '[]',
        webhook_url: null,
        webhook_secret_enc: null,
        created_at: p.now,
        updated_at: p.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toProject(row);
  }

  async get(id: string) {
    const row = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toProject(row);
  }

  async list(ids?: readonly string[]) {
    let q = this.db.selectFrom('projects').selectAll().orderBy('created_at').orderBy('id');
    if (ids) {
      if (ids.length === 0) return [];
      q = q.where('id', 'in', ids);
    }
    return (await q.execute()).map(toProject);
  }

  async update(
    id: string,
    patch: {
      name?: string;
      notificationEmails?: readonly string[];
      brazeEnabled?: boolean;
      webhookUrl?: string | null;
      webhookSecretEnc?: string | null;
    },
    now: string,
  ) {
    const row = await this.db
      .updateTable('projects')
      .set({
        updated_at: now,
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.notificationEmails !== undefined ? { notification_emails: toJson(patch.notificationEmails) } : {}),
        ...(patch.brazeEnabled !== undefined ? { braze_enabled: patch.brazeEnabled ? 1 : 0 } : {}),
        ...(patch.webhookUrl !== undefined ? { webhook_url: patch.webhookUrl } : {}),
        ...(patch.webhookSecretEnc !== undefined ? { webhook_secret_enc: patch.webhookSecretEnc } : {}),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toProject(row);
  }

  async ingestKeyEnc(id: string) {
    return (await this.db.selectFrom('projects').select('ingest_key_enc').where('id', '=', id).executeTakeFirst())
      ?.ingest_key_enc;
  }

  async webhookSecretEnc(id: string) {
    return (
      (await this.db.selectFrom('projects').select('webhook_secret_enc').where('id', '=', id).executeTakeFirst())
        ?.webhook_secret_enc ?? null
    );
  }

  async findByIngestKeyHash(hash: string) {
    const row = await this.db.selectFrom('projects').selectAll().where('ingest_key_hash', '=', hash).executeTakeFirst();
    return row && toProject(row);
  }

  async setIngestKey(id: string, key: { ingestKeyEnc: string; ingestKeyHash: string }, now: string) {
    const r = await this.db
      .updateTable('projects')
      .set({ ingest_key_enc: key.ingestKeyEnc, ingest_key_hash: key.ingestKeyHash, updated_at: now })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}

const TOKEN_COLUMNS = ['id', 'project_id', 'role', 'name', 'hint', 'created_at', 'last_used_at', 'expires_at'] as const;

type TokenRow = Pick<Selectable<Database['api_tokens']>, (typeof TOKEN_COLUMNS)[number]>;

const toTokenRecord = (row: TokenRow): TokenRecord => ({
  id: row.id,
  projectId: row.project_id,
  role: row.role as 'editor' | 'viewer',
  name: row.name,
  hint: row.hint ?? '…',
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
});

export class KyselyTokensRepo implements TokensRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(t: Parameters<TokensRepo['create']>[0]) {
    await this.db
      .insertInto('api_tokens')
      .values({
        id: t.id,
        project_id: t.projectId,
        role: t.role,
        token_hash: t.tokenHash,
        created_at: t.now,
        name: t.name ?? null,
        hint: t.hint ?? null,
        expires_at: t.expiresAt ?? null,
      })
      .execute();
  }

  async findByHash(hash: string) {
    const row = await this.db
      .selectFrom('api_tokens')
      .select(TOKEN_COLUMNS)
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    return row && toTokenRecord(row);
  }

  async list(projectId: string) {
    const rows = await this.db
      .selectFrom('api_tokens')
      .select(TOKEN_COLUMNS)
      .where('project_id', '=', projectId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toTokenRecord);
  }

  async revoke(projectId: string, tokenId: string) {
    const r = await this.db
      .deleteFrom('api_tokens')
      .where('project_id', '=', projectId)
      .where('id', '=', tokenId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async touch(tokenId: string, now: string) {
    await this.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', tokenId).execute();
  }
}

const toTarget = (r: Selectable<BrazeTargetsTable>): Target => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  endpoint: r.endpoint,
  delivery: r.delivery as DeliveryMode,
  keyHint: r.key_hint,
  workspaceKey: r.workspace_key,
  mapping: parseJson<Mapping>(r.mapping, { type: 'user_id' }),
  attribute:
    r.attribute === null ? null : parseJson<AttributeSettings>(r.attribute, { name: 'cohorts', style: 'array' }),
  createdAt: r.created_at,
});

export class KyselyTargetsRepo implements TargetsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(t: Target & { secretEnc: string }) {
    const row = await this.db
      .insertInto('braze_targets')
      .values({
        id: t.id,
        project_id: t.projectId,
        name: t.name,
        endpoint: t.endpoint,
        // The column's name is historical: it holds the target's secret of either delivery mode.
        data_import_key_enc: t.secretEnc,
        key_hint: t.keyHint,
        workspace_key: t.workspaceKey,
        mapping: toJson(t.mapping),
        delivery: t.delivery,
        attribute: t.attribute === null ? null : toJson(t.attribute),
        created_at: t.createdAt,
        updated_at: t.createdAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toTarget(row);
  }

  async get(projectId: string, id: string) {
    const row = await this.db
      .selectFrom('braze_targets')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toTarget(row);
  }

  async findByName(projectId: string, name: string) {
    const row = await this.db
      .selectFrom('braze_targets')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toTarget(row);
  }

  async list(projectId: string) {
    return (
      await this.db
        .selectFrom('braze_targets')
        .selectAll()
        .where('project_id', '=', projectId)
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    ).map(toTarget);
  }

  async update(
    projectId: string,
    id: string,
    patch: { endpoint?: string; secretEnc?: string; keyHint?: string; workspaceKey?: string },
    now: string,
  ) {
    const row = await this.db
      .updateTable('braze_targets')
      .set({
        updated_at: now,
        ...(patch.endpoint !== undefined ? { endpoint: patch.endpoint } : {}),
        ...(patch.secretEnc !== undefined ? { data_import_key_enc: patch.secretEnc } : {}),
        ...(patch.keyHint !== undefined ? { key_hint: patch.keyHint } : {}),
        ...(patch.workspaceKey !== undefined ? { workspace_key: patch.workspaceKey } : {}),
      })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toTarget(row);
  }

  async delete(projectId: string, id: string) {
    await this.db.deleteFrom('braze_targets').where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  async secretOf(id: string) {
    return (
      await this.db.selectFrom('braze_targets').select('data_import_key_enc').where('id', '=', id).executeTakeFirst()
    )?.data_import_key_enc;
  }
}

const toCohort = (r: Selectable<CohortsTable>): Cohort => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  type: r.type as CohortType,
  definition: parseJson<unknown>(r.definition, null),
  size: Number(r.size),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class KyselyCohortsRepo implements CohortsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(c: { id: string; projectId: string; name: string; type: CohortType; definition: unknown; now: string }) {
    const row = await this.db
      .insertInto('cohorts')
      .values({
        id: c.id,
        project_id: c.projectId,
        name: c.name,
        type: c.type,
        definition: c.definition === undefined || c.definition === null ? null : toJson(c.definition),
        size: 0,
        created_at: c.now,
        updated_at: c.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCohort(row);
  }

  async get(projectId: string, id: string) {
    const row = await this.db
      .selectFrom('cohorts')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toCohort(row);
  }

  async list(projectId: string) {
    return (
      await this.db
        .selectFrom('cohorts')
        .selectAll()
        .where('project_id', '=', projectId)
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    ).map(toCohort);
  }

  async update(projectId: string, id: string, patch: { name?: string; definition?: unknown }, now: string) {
    const row = await this.db
      .updateTable('cohorts')
      .set({
        updated_at: now,
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.definition !== undefined ? { definition: toJson(patch.definition) } : {}),
      })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toCohort(row);
  }

  async delete(projectId: string, id: string) {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('cohort_members').where('cohort_id', '=', id).execute();
      await tx.deleteFrom('cohorts').where('project_id', '=', projectId).where('id', '=', id).execute();
    });
  }
}
