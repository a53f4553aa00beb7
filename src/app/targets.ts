// Braze targets (docs/design.md §8): named; name, mapping, delivery mode and attribute immutable; key and endpoint
// changeable. Each delivery mode's definition says which identifier kinds its mappings may reach.
import { attributeNameProblem, DEFAULT_ATTRIBUTE_NAME } from '../domain/attributes.ts';
import type { IdentifierKind } from '../domain/identifiers.ts';
import { type Mapping, mappingChain, validateMapping } from '../domain/mapping.ts';
import {
  type AttributeSettings,
  DEFAULT_DELIVERY_MODE,
  type DeliveryMode,
  type Sync,
  type Target,
} from '../domain/model.ts';
import type { DestinationRegistry, TargetSecretField } from '../ports/destination.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid, notFound } from './errors.ts';
import { requireProject } from './projects.ts';

export const DEFAULT_TARGET_NAME = 'Default';

/** Creating or changing a target: the allowed endpoints, the mode's definition, and the key's cipher. */
export type TargetWriteDeps = Uses<'settings' | 'destinations' | 'secrets' | 'newId' | 'clock', 'projects' | 'targets'>;

/** The service never calls an address a user typed: only the destination's instances and operator-allowed extras. */
export function checkEndpoint(
  deps: Uses<'settings' | 'destinations'>,
  delivery: DeliveryMode,
  endpoint: string,
): string {
  const { normalise, isInstance, description } = deps.destinations.get(delivery).endpoints;
  const normalised = normalise(endpoint);
  if (isInstance(normalised)) return normalised;
  if (deps.settings.allowedEndpoints.map(normalise).includes(normalised)) return normalised;
  throw invalid([{ path: 'endpoint', message: `${endpoint} is not ${description} nor one the operator allowed` }]);
}

function checkMapping(mapping: Mapping): void {
  const problems = validateMapping(mapping);
  if (problems.length > 0) throw invalid(problems);
}

/** What each step of a mapping sends (src/domain/mapping.ts): device_id steps send device ids. */
const KINDS_OF: Record<Mapping['type'], IdentifierKind> = {
  user_id: 'external_id',
  device_id: 'device_id',
  user_alias: 'alias',
};

/** A mode that cannot address users by some identifier kind refuses mappings (or fallbacks) that reach it. */
function checkMappingFits(deps: Uses<'destinations'>, delivery: DeliveryMode, mapping: Mapping): void {
  const definition = deps.destinations.get(delivery);
  for (const step of mappingChain(mapping)) {
    const kind = KINDS_OF[step.type];
    if (!definition.accepts.includes(kind))
      throw new AppError(422, 'mapping_not_supported', `mapping ${step.type}: ${definition.refusal(kind)}`, {
        mapping: step.type,
        delivery,
      });
  }
}

/** Targets that share endpoint and key reach one Braze workspace, and so share its cohorts (docs/design.md §8). */
const workspaceKeyOf = (
  deps: Uses<'secrets' | 'destinations'>,
  delivery: DeliveryMode,
  endpoint: string,
  key: string,
) =>
  deps.destinations.get(delivery).workspaceKeyNamesMode
    ? deps.secrets.fingerprint('braze-workspace', delivery, endpoint, key)
    : deps.secrets.fingerprint('braze-workspace', endpoint, key);

export interface TargetInput {
  readonly name: string;
  readonly endpoint: string;
  readonly mapping: Mapping;
  readonly delivery?: DeliveryMode;
  readonly dataImportKey?: string;
  readonly restApiKey?: string;
  readonly attribute?: { readonly name?: string; readonly style?: 'array' | 'boolean' };
}

/** The key an input carries for its mode (its definition names the field); another mode's key is refused. */
function secretOf(
  destinations: DestinationRegistry,
  delivery: DeliveryMode,
  input: Partial<Record<TargetSecretField, string>>,
): string | undefined {
  const field = destinations.get(delivery).secret.field;
  for (const mode of destinations.modes) {
    const other = destinations.get(mode).secret.field;
    if (other !== field && input[other] !== undefined)
      throw invalid([{ path: other, message: `a ${delivery} target takes ${field}, not ${other}` }]);
  }
  return input[field];
}

/** Refuses an `attribute` where the mode writes none; `where` words the modes that do take one. */
export function refuseAttribute(destinations: DestinationRegistry, where: (modes: string) => string): never {
  const modes = destinations.modes.filter((m) => destinations.get(m).audience === 'attribute');
  throw invalid([{ path: 'attribute', message: `attribute applies to ${where(modes.join(' or '))} only` }]);
}

function checkAttribute(
  destinations: DestinationRegistry,
  delivery: DeliveryMode,
  attribute: TargetInput['attribute'],
): AttributeSettings | null {
  if (destinations.get(delivery).audience !== 'attribute') {
    if (attribute !== undefined) refuseAttribute(destinations, (modes) => `delivery "${modes}"`);
    return null;
  }
  const style = attribute?.style ?? 'array';
  if (style === 'boolean') {
    if (attribute?.name !== undefined)
      throw invalid([
        {
          path: 'attribute.name',
          message: 'with style "boolean" each sync names its own attribute (the sync\'s attribute.name)',
        },
      ]);
    return { name: null, style };
  }
  const name = attribute?.name ?? DEFAULT_ATTRIBUTE_NAME;
  const problem = attributeNameProblem(name);
  if (problem) throw invalid([{ path: 'attribute.name', message: problem }]);
  return { name, style };
}

export async function createTarget(
  deps: TargetWriteDeps,
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
  const delivery = input.delivery ?? DEFAULT_DELIVERY_MODE;
  if (!deps.destinations.modes.includes(delivery))
    throw invalid([{ path: 'delivery', message: `must be one of ${deps.destinations.modes.join(', ')}` }]);
  const endpoint = checkEndpoint(deps, delivery, input.endpoint);
  checkMapping(input.mapping);
  const secret = secretOf(deps.destinations, delivery, input);
  const attribute = checkAttribute(deps.destinations, delivery, input.attribute);
  const { field, label } = deps.destinations.get(delivery).secret;
  if (secret === undefined || !secret.trim()) throw invalid([{ path: field, message: `${label} is required` }]);
  checkMappingFits(deps, delivery, input.mapping);
  if (await deps.store.targets.findByName(projectId, name))
    throw new AppError(409, 'target_name_taken', `a target named "${name}" already exists`);
  return deps.store.targets.create({
    id: deps.newId('tgt'),
    projectId,
    name,
    endpoint,
    delivery,
    keyHint: deps.secrets.hint(secret),
    workspaceKey: workspaceKeyOf(deps, delivery, endpoint, secret),
    mapping: input.mapping,
    attribute,
    createdAt: deps.clock.now().toISOString(),
    secretEnc: deps.secrets.encrypt(secret),
  });
}

export async function requireTarget(
  deps: Uses<never, 'targets'>,
  projectId: string,
  targetId: string,
): Promise<Target> {
  const target = await deps.store.targets.get(projectId, targetId);
  if (!target) throw notFound('target', targetId);
  return target;
}

export interface TargetPatch {
  readonly name?: string;
  readonly mapping?: Mapping;
  readonly delivery?: DeliveryMode;
  readonly attribute?: unknown;
  readonly endpoint?: string;
  readonly dataImportKey?: string;
  readonly restApiKey?: string;
}

/**
 * A new key for the same target is a rotation within the same Braze workspace: its syncs keep their Braze
 * cohorts and acknowledged state, so nothing is re-sent. Name, mapping, delivery and attribute are fixed.
 */
export async function updateTarget(
  deps: Uses<'settings' | 'secrets' | 'clock' | 'destinations', 'targets'>,
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
  if (patch.delivery !== undefined && patch.delivery !== target.delivery)
    throw new AppError(409, 'target_delivery_immutable', 'a target delivery mode cannot change; create a new target');
  if (patch.attribute !== undefined && JSON.stringify(patch.attribute) !== JSON.stringify(attributeView(target)))
    throw new AppError(
      409,
      'target_attribute_immutable',
      'a target attribute cannot change (profiles already carry it); create a new target',
    );
  const endpoint = patch.endpoint !== undefined ? checkEndpoint(deps, target.delivery, patch.endpoint) : undefined;
  const secret = secretOf(deps.destinations, target.delivery, patch);
  const { field, label } = deps.destinations.get(target.delivery).secret;
  if (secret !== undefined && !secret.trim()) throw invalid([{ path: field, message: `${label} cannot be empty` }]);
  const updated = await deps.store.targets.update(
    projectId,
    targetId,
    {
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(secret !== undefined ? { secretEnc: deps.secrets.encrypt(secret), keyHint: deps.secrets.hint(secret) } : {}),
    },
    deps.clock.now().toISOString(),
  );
  if (!updated) throw notFound('target', targetId);
  return updated;
}

/** A target's attribute settings as the API shows them. */
export function attributeView(t: Target): { name?: string; style: 'array' | 'boolean' } | undefined {
  if (!t.attribute) return undefined;
  return t.attribute.name === null
    ? { style: t.attribute.style }
    : { name: t.attribute.name, style: t.attribute.style };
}

export async function syncsUsingTarget(
  deps: Uses<never, 'syncs'>,
  projectId: string,
  targetId: string,
): Promise<Sync[]> {
  return deps.store.syncs.list(projectId, { targetId });
}

export async function decryptedKey(deps: Uses<'secrets', 'targets'>, targetId: string): Promise<string> {
  const sealed = await deps.store.targets.secretOf(targetId);
  if (!sealed) throw notFound('target', targetId);
  return deps.secrets.decrypt(sealed);
}

export async function testTarget(
  deps: Uses<'secrets' | 'destinations', 'targets'>,
  projectId: string,
  targetId: string,
): Promise<{ ok: boolean; message: string }> {
  const target = await requireTarget(deps, projectId, targetId);
  return deps.destinations.get(target.delivery).testConnection({
    endpoint: target.endpoint,
    secret: await decryptedKey(deps, target.id),
  });
}
