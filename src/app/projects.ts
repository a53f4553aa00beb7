// Projects and their tokens. Ingest keys and tokens are shown once; the store keeps hashes or ciphertext.
import type { Project } from '../domain/model.ts';
import type { AppDeps } from './deps.ts';
import { notFound } from './errors.ts';

export interface TokenTools {
  generate(prefix: string): string;
  hash(token: string): string;
}

export async function createProject(
  deps: AppDeps,
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

export async function requireProject(deps: AppDeps, projectId: string): Promise<Project> {
  const project = await deps.store.projects.get(projectId);
  if (!project) throw notFound('project', projectId);
  return project;
}

export async function createProjectToken(
  deps: AppDeps,
  tokens: TokenTools,
  projectId: string,
  role: 'editor' | 'viewer',
  name?: string,
): Promise<{ id: string; token: string; role: string; name?: string; hint: string; createdAt: string }> {
  await requireProject(deps, projectId);
  const token = tokens.generate('cs_proj');
  const id = deps.newId('tok');
  const createdAt = deps.clock.now().toISOString();
  const hint = deps.secrets.hint(token);
  const label = name?.trim() || undefined;
  await deps.store.tokens.create({
    id,
    projectId,
    role,
    tokenHash: tokens.hash(token),
    now: createdAt,
    name: label ?? null,
    hint,
  });
  return { id, token, role, ...(label ? { name: label } : {}), hint, createdAt };
}

/** The project's tokens: role, name and the last four characters; never the token. */
export async function listProjectTokens(deps: AppDeps, projectId: string) {
  await requireProject(deps, projectId);
  return (await deps.store.tokens.list(projectId)).map((t) => ({
    id: t.id,
    role: t.role,
    ...(t.name ? { name: t.name } : {}),
    hint: t.hint ?? '…',
    createdAt: t.createdAt,
  }));
}

export async function revokeProjectToken(deps: AppDeps, projectId: string, tokenId: string): Promise<void> {
  await requireProject(deps, projectId);
  if (!(await deps.store.tokens.delete(projectId, tokenId))) throw notFound('token', tokenId);
}

/** Replaces the project's ingest key: SDKs using the old one are refused ("Invalid API key") at once. */
export async function rotateIngestKey(
  deps: AppDeps,
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

export async function ingestKeyOf(deps: AppDeps, projectId: string): Promise<string> {
  const sealed = await deps.store.projects.ingestKeyEnc(projectId);
  if (!sealed) throw notFound('project', projectId);
  return deps.secrets.decrypt(sealed);
}
