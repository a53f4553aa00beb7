// The project's Braze destination (docs/design.md §8): enabling it, the older single-key form (which is the
// target named "Default"), listing targets, and deleting a target with or without the syncs that use it.
import type { Mapping } from '../domain/mapping.ts';
import type { Target } from '../domain/model.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid } from './errors.ts';
import { requireProject } from './projects.ts';
import {
  createTarget,
  DEFAULT_TARGET_NAME,
  requireTarget,
  syncsUsingTarget,
  type TargetWriteDeps,
  updateTarget,
} from './targets.ts';

export interface BrazeDestination {
  readonly enabled: boolean;
  readonly targets: Target[];
}

export async function listTargets(deps: Uses<never, 'projects' | 'targets'>, projectId: string): Promise<Target[]> {
  await requireProject(deps, projectId);
  return deps.store.targets.list(projectId);
}

export async function brazeDestination(
  deps: Uses<never, 'projects' | 'targets'>,
  projectId: string,
): Promise<BrazeDestination> {
  const project = await requireProject(deps, projectId);
  return { enabled: project.brazeEnabled, targets: await deps.store.targets.list(projectId) };
}

export interface BrazeDestinationInput {
  readonly enabled: boolean;
  readonly endpoint?: string;
  readonly dataImportKey?: string;
  readonly mapping?: Mapping;
}

/**
 * Enables or disables the destination; with single-key fields it creates the "Default" target, or
 * updates it (key and endpoint change, its mapping cannot). The target change comes first, so a refused
 * change leaves the enabled flag as it was.
 */
export async function configureBrazeDestination(
  deps: TargetWriteDeps,
  projectId: string,
  input: BrazeDestinationInput,
): Promise<BrazeDestination> {
  const project = await requireProject(deps, projectId);
  const { endpoint, dataImportKey, mapping } = input;
  if (endpoint !== undefined || dataImportKey !== undefined || mapping !== undefined) {
    const existing = await deps.store.targets.findByName(projectId, DEFAULT_TARGET_NAME);
    if (existing) {
      await updateTarget(deps, projectId, existing.id, {
        ...(endpoint !== undefined ? { endpoint } : {}),
        ...(dataImportKey !== undefined ? { dataImportKey } : {}),
        ...(mapping !== undefined ? { mapping } : {}),
      });
    } else {
      const missing = (['endpoint', 'dataImportKey', 'mapping'] as const).filter((f) => input[f] === undefined);
      if (missing.length > 0) {
        throw invalid(
          missing.map((f) => ({
            path: f,
            message: `required to create the "${DEFAULT_TARGET_NAME}" target (single-key form: endpoint, dataImportKey and mapping together)`,
          })),
        );
      }
      await createTarget(
        deps,
        projectId,
        { name: DEFAULT_TARGET_NAME, endpoint: endpoint!, dataImportKey: dataImportKey!, mapping: mapping! },
        { allowDefaultName: true },
      );
    }
  }
  if (project.brazeEnabled !== input.enabled) {
    await deps.store.projects.update(projectId, { brazeEnabled: input.enabled }, deps.clock.now().toISOString());
  }
  return brazeDestination(deps, projectId);
}

/**
 * Deletes a target. While syncs use it the answer is 409 with their ids, unless `deleteSyncs` is set:
 * then those syncs go first (without removing their members from Braze: that is a per-sync choice).
 */
export async function deleteTarget(
  deps: Uses<never, 'targets' | 'syncs'>,
  projectId: string,
  targetId: string,
  opts: { deleteSyncs?: boolean } = {},
): Promise<{ deletedSyncs: string[] }> {
  const target = await requireTarget(deps, projectId, targetId);
  const syncs = await syncsUsingTarget(deps, projectId, target.id);
  if (syncs.length > 0 && !opts.deleteSyncs) {
    throw new AppError(
      409,
      'target_in_use',
      `target "${target.name}" is used by ${syncs.length} sync(s); delete them first or pass deleteSyncs=true`,
      { syncs: syncs.map((s) => s.id) },
    );
  }
  for (const sync of syncs) await deps.store.syncs.delete(projectId, sync.id);
  await deps.store.targets.delete(projectId, target.id);
  return { deletedSyncs: syncs.map((s) => s.id) };
}
