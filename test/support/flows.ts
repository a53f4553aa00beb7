// Small steps shared by integration tests: a project with Braze enabled, a target on the sandbox, waits.
import { generateToken, hashToken } from '../../src/adapters/crypto/secrets.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createProject } from '../../src/app/projects.ts';
import { createTarget } from '../../src/app/targets.ts';
import type { Mapping } from '../../src/domain/mapping.ts';
import type { Run } from '../../src/domain/model.ts';
import type { RunningSandbox } from '../../src/sandbox/index.ts';
import type { Harness } from './harness.ts';

export const tokenTools = { generate: generateToken, hash: hashToken };

export async function projectWithBraze(deps: AppDeps, name = 'Test project') {
  const { project } = await createProject(deps, tokenTools, { name });
  await deps.store.projects.update(project.id, { brazeEnabled: true }, new Date().toISOString());
  return project;
}

export async function sandboxTarget(
  h: Harness,
  projectId: string,
  mapping: Mapping,
  opts: { name?: string; dataImportKey?: string } = {},
) {
  const dataImportKey = opts.dataImportKey ?? h.sandbox.state.createWorkspace();
  const target = await createTarget(h.deps, projectId, {
    name: opts.name ?? `target-${mapping.type}-${Math.random().toString(36).slice(2, 7)}`,
    endpoint: h.sandbox.url,
    dataImportKey,
    mapping,
  });
  return { target, dataImportKey };
}

export async function waitForRun(deps: AppDeps, runId: string, timeoutMs = 30_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await deps.store.runs.getById(runId);
    if (run && ['succeeded', 'failed', 'cancelled'].includes(run.status)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} did not finish in ${timeoutMs} ms (status ${run?.status}, phase ${run?.phase})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The run a just-created sync started (createSync requests one right away). */
export async function firstRunOf(deps: AppDeps, projectId: string, syncId: string): Promise<Run> {
  const page = await deps.store.runs.list(projectId, { syncId }, 10, null);
  const run = page.items.at(-1);
  if (!run) throw new Error(`sync ${syncId} has no run`);
  return run;
}

export const sorted = (xs: Iterable<string>) => [...xs].sort();

/**
 * A custom_attribute target on the sandbox: a workspace seeded with `users`, a REST API key with users.track
 * (or the given permissions), and the target over it.
 */
export async function attributeTarget(
  h: Harness,
  projectId: string,
  mapping: Mapping,
  opts: {
    name?: string;
    users?: { external_id?: string; aliases?: { alias_name: string; alias_label: string }[] }[];
    attribute?: { name?: string; style?: 'array' | 'boolean' };
    permissions?: string[];
  } = {},
) {
  const workspace = h.sandbox.state.createWorkspace();
  if (opts.users) h.sandbox.state.seedUsers(workspace, opts.users);
  const restApiKey = h.sandbox.state.createRestKey(
    workspace,
    opts.permissions ? { permissions: opts.permissions } : {},
  ).key;
  const target = await createTarget(h.deps, projectId, {
    name: opts.name ?? `attr-${mapping.type}-${Math.random().toString(36).slice(2, 7)}`,
    endpoint: h.sandbox.url,
    delivery: 'custom_attribute',
    restApiKey,
    mapping,
    ...(opts.attribute ? { attribute: opts.attribute } : {}),
  });
  return { target, workspace, restApiKey };
}

/** The /users/track requests the sandbox received, with their attributes objects. */
export function trackRequests(sandbox: RunningSandbox): { status: number; attributes: Record<string, unknown>[] }[] {
  return sandbox.state
    .requests(100_000)
    .filter((r) => r.path === '/users/track')
    .map((r) => ({
      status: r.status,
      attributes: ((r.body as { attributes?: Record<string, unknown>[] } | null)?.attributes ?? []) as Record<
        string,
        unknown
      >[],
    }));
}
