// Projects and their tokens. Ingest keys and tokens are shown once; the store keeps hashes or ciphertext.
import type { Project } from '../domain/model.ts';
import type { TokenRecord } from '../ports/store.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';

/** Reading a project by id. */
export type ProjectLookupDeps = Uses<never, 'projects'>;
/** Creating a project or replacing its ingest key: ids, the clock, and the cipher of the key. */
export type ProjectKeyDeps = Uses<'newId' | 'secrets' | 'clock', 'projects'>;
/** Project tokens: the project, the tokens repository, ids, the clock, and key hints. */
export type ProjectTokenDeps = Uses<'newId' | 'secrets' | 'clock', 'projects' | 'tokens'>;

export interface TokenTools {
  generate(prefix: string): string;
  hash(token: string): string;
}

export async function createProject(
  deps: ProjectKeyDeps,
  tokens: TokenTools,
  input: { name: string },
): Promise<{ project: Project; ingestKey: string }> {
  const ingestKey = tokens.generate('cs_ingest');
  const project = await deps.store.projects.create({
    id: deps.newId('prj'),
    name: input.name,
    ingestKeyEnc: deps.secrets.encrypt(ingestKey),
    ingestKeyHash: tokens.hash(ingestKey),
    now: deps.clock.now().toISOString(),
  });
  return { project, ingestKey };
}

export async function requireProject(deps: ProjectLookupDeps, projectId: string): Promise<Project> {
  const project = await deps.store.projects.get(projectId);
  if (!project) throw notFound('project', projectId);
  return project;
}

export interface TokenOptions {
  readonly name?: string | undefined;
  /** ISO-8601; absent: the token never expires (unless its creator does). */
  readonly expiresAt?: string | undefined;
  /**
   * Who creates it. A project token may not hand out more than it has: an editor's token creates editor
   * or viewer tokens, and, when it expires itself, only tokens that expire no later.
   */
  readonly creator?: { readonly kind: 'admin' } | { readonly kind: 'project'; readonly expiresAt: string | null };
}

/** A token's listing: what it is, never the token or its hash. */
export function tokenView(t: TokenRecord) {
  return {
    id: t.id,
    role: t.role,
    ...(t.name !== null ? { name: t.name } : {}),
    hint: t.hint,
    createdAt: t.createdAt,
    ...(t.lastUsedAt !== null ? { lastUsedAt: t.lastUsedAt } : {}),
    ...(t.expiresAt !== null ? { expiresAt: t.expiresAt } : {}),
  };
}

export async function createProjectToken(
  deps: ProjectTokenDeps,
  tokens: TokenTools,
  projectId: string,
  role: 'editor' | 'viewer',
  opts: TokenOptions = {},
): Promise<ReturnType<typeof tokenView> & { token: string }> {
  await requireProject(deps, projectId);
  const now = deps.clock.now();
  let expiresAt = opts.expiresAt === undefined ? null : new Date(opts.expiresAt);
  if (expiresAt !== null && !(expiresAt.getTime() > now.getTime()))
    throw invalid([{ path: 'expiresAt', message: 'must be in the future' }]);
  const creatorExpiry = opts.creator?.kind === 'project' ? opts.creator.expiresAt : null;
  if (creatorExpiry !== null) {
    if (expiresAt === null) expiresAt = new Date(creatorExpiry);
    else if (expiresAt.getTime() > new Date(creatorExpiry).getTime())
      throw new AppError(
        403,
        'forbidden',
        `your token expires at ${creatorExpiry}; it cannot create a token that outlives it`,
      );
  }
  const token = tokens.generate('cs_proj');
  const record: TokenRecord = {
    id: deps.newId('tok'),
    projectId,
    role,
    name: opts.name ?? null,
    hint: deps.secrets.hint(token),
    createdAt: now.toISOString(),
    lastUsedAt: null,
    expiresAt: expiresAt?.toISOString() ?? null,
  };
  await deps.store.tokens.create({
    id: record.id,
    projectId,
    role,
    tokenHash: tokens.hash(token),
    now: record.createdAt,
    name: record.name,
    hint: record.hint,
    expiresAt: record.expiresAt,
  });
  return { ...tokenView(record), token };
}

export async function listProjectTokens(deps: Uses<never, 'projects' | 'tokens'>, projectId: string) {
  await requireProject(deps, projectId);
  return (await deps.store.tokens.list(projectId)).map(tokenView);
}

export async function revokeProjectToken(
  deps: Uses<never, 'projects' | 'tokens'>,
  projectId: string,
  tokenId: string,
): Promise<void> {
  await requireProject(deps, projectId);
  if (!(await deps.store.tokens.revoke(projectId, tokenId))) throw notFound('token', tokenId);
}

/** Replaces the project's ingest key: SDKs using the old one are refused ("Invalid API key") at once. */
export async function rotateIngestKey(
  deps: ProjectKeyDeps,
  tokens: TokenTools,
  projectId: string,
): Promise<{ project: Project; ingestKey: string }> {
  const ingestKey = tokens.generate('cs_ingest');
  const done = await deps.store.projects.setIngestKey(
    projectId,
    { ingestKeyEnc: deps.secrets.encrypt(ingestKey), ingestKeyHash: tokens.hash(ingestKey) },
    deps.clock.now().toISOString(),
  );
  if (!done) throw notFound('project', projectId);
  return { project: await requireProject(deps, projectId), ingestKey };
}

export async function ingestKeyOf(deps: Uses<'secrets', 'projects'>, projectId: string): Promise<string> {
  const sealed = await deps.store.projects.ingestKeyEnc(projectId);
  if (!sealed) throw notFound('project', projectId);
  return deps.secrets.decrypt(sealed);
}
