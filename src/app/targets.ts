// Braze targets (product.md §3): named, immutable name and mapping, key and endpoint changeable.
import { findInstance, normaliseEndpoint } from '../domain/braze-instances.ts';
import { type Mapping, validateMapping } from '../domain/mapping.ts';
import type { Sync, Target } from '../domain/model.ts';
import type { AppDeps } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';

export const DEFAULT_TARGET_NAME = 'Default';

/** The service never calls an address a user typed: only Braze's instances and operator-allowed extras. */
export function checkEndpoint(deps: AppDeps, endpoint: string): string {
  const normalised = normaliseEndpoint(endpoint);
  if (findInstance(normalised)) return normalised;
  if (deps.settings.allowedEndpoints.map(normaliseEndpoint).includes(normalised)) return normalised;
  throw invalid([
    {
      path: 'endpoint',
      message: `${endpoint} is not a Braze REST endpoint (e.g. https://rest.iad-01.braze.com) nor one the operator allowed`,
    },
  ]);
}

function checkMapping(mapping: Mapping): void {
  const problems = validateMapping(mapping);
  if (problems.length > 0) throw invalid(problems);
}

/** Targets that share endpoint and key reach one Braze workspace, and so share its cohorts (product.md §4). */
const workspaceKeyOf = (deps: AppDeps, endpoint: string, key: string) =>
  deps.secrets.fingerprint('braze-workspace', endpoint, key);

export interface TargetInput {
  readonly name: string;
  readonly endpoint: string;
  readonly dataImportKey: string;
  readonly mapping: Mapping;
}

export async function createTarget(
  deps: AppDeps,
  projectId: string,
  input: TargetInput,
  opts: { allowDefaultName?: boolean } = {},
): Promise<Target> {
  await requireProject(deps, projectId);
  const name = input.name.trim();
  if (!name) throw invalid([{ path: 'name', message: 'a target needs a name' }]);
  if (name === DEFAULT_TARGET_NAME && !opts.allowDefaultName) {
    throw new AppError(
      409,
      'target_name_reserved',
      `the name "${DEFAULT_TARGET_NAME}" is kept for the single-key configuration (PUT /destinations/braze)`,
    );
  }
  const endpoint = checkEndpoint(deps, input.endpoint);
  checkMapping(input.mapping);
  if (!input.dataImportKey.trim())
    throw invalid([{ path: 'dataImportKey', message: 'the Data Import Key is required' }]);
  if (await deps.store.targets.findByName(projectId, name))
    throw new AppError(409, 'target_name_taken', `a target named "${name}" already exists`);
  return deps.store.targets.create({
    id: deps.newId('tgt'),
    projectId,
    name,
    endpoint,
    keyHint: deps.secrets.hint(input.dataImportKey),
    workspaceKey: workspaceKeyOf(deps, endpoint, input.dataImportKey),
    mapping: input.mapping,
    createdAt: deps.clock.now().toISOString(),
    dataImportKeyEnc: deps.secrets.encrypt(input.dataImportKey),
  });
}

export async function requireTarget(deps: AppDeps, projectId: string, targetId: string): Promise<Target> {
  const target = await deps.store.targets.get(projectId, targetId);
  if (!target) throw notFound('target', targetId);
  return target;
}

export interface TargetPatch {
  readonly name?: string;
  readonly mapping?: Mapping;
  readonly endpoint?: string;
  readonly dataImportKey?: string;
}

/**
 * A new key for the same target is a rotation within the same Braze workspace: its syncs keep their Braze
 * cohorts and acknowledged state, so nothing is re-sent.
 */
export async function updateTarget(
  deps: AppDeps,
  projectId: string,
  targetId: string,
  patch: TargetPatch,
): Promise<Target> {
  const target = await requireTarget(deps, projectId, targetId);
  if (patch.name !== undefined && patch.name !== target.name) {
    throw new AppError(
      409,
      'target_name_immutable',
      'a target name cannot change; delete the target and create it again',
    );
  }
  if (patch.mapping !== undefined && JSON.stringify(patch.mapping) !== JSON.stringify(target.mapping)) {
    throw new AppError(
      409,
      'target_mapping_immutable',
      'a target mapping cannot change; create a new target for another mapping',
    );
  }
  const endpoint = patch.endpoint !== undefined ? checkEndpoint(deps, patch.endpoint) : undefined;
  if (patch.dataImportKey !== undefined && !patch.dataImportKey.trim())
    throw invalid([{ path: 'dataImportKey', message: 'the Data Import Key cannot be empty' }]);
  const updated = await deps.store.targets.update(
    projectId,
    targetId,
    {
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(patch.dataImportKey !== undefined
        ? {
            dataImportKeyEnc: deps.secrets.encrypt(patch.dataImportKey),
            keyHint: deps.secrets.hint(patch.dataImportKey),
          }
        : {}),
    },
    deps.clock.now().toISOString(),
  );
  if (!updated) throw notFound('target', targetId);
  return updated;
}

export async function syncsUsingTarget(deps: AppDeps, projectId: string, targetId: string): Promise<Sync[]> {
  return deps.store.syncs.list(projectId, { targetId });
}

export async function decryptedKey(deps: AppDeps, targetId: string): Promise<string> {
  const sealed = await deps.store.targets.keyOf(targetId);
  if (!sealed) throw notFound('target', targetId);
  return deps.secrets.decrypt(sealed);
}

export async function testTarget(
  deps: AppDeps,
  projectId: string,
  targetId: string,
): Promise<{ ok: boolean; message: string }> {
  const target = await requireTarget(deps, projectId, targetId);
  return deps.destination.testConnection({
    endpoint: target.endpoint,
    dataImportKey: await decryptedKey(deps, target.id),
  });
}
