// Request bodies of the partner cohort import endpoints, exactly as docs/design.md describes them (Braze
// "Partner cohort import integration", https://www.braze.com/docs/partners/isv_partners/cohort_import).
// The rules Braze enforces with a 400 — at most 1,000 identifiers, no identifier twice — are checked here,
// before anything is sent, so a caller's bug surfaces as our message rather than a wasted request.
import { describeIdentifier, type Identifier, identifierKey } from '../../domain/identifiers.ts';
import { DeliveryError, type MembershipChange } from '../../ports/destination.ts';

/** docs/design.md "Cohort import": counted across user_ids + device_ids + aliases of all blocks. */
export const MAX_IDENTIFIERS_PER_REQUEST = 1_000;

export interface PartnerCredentials {
  readonly partnerApiKey: string;
  readonly clientSecret: string;
}

export interface CohortNameBody {
  readonly partner_api_key: string;
  readonly client_secret: string;
  readonly cohort_id: string;
  readonly name: string;
  readonly created_at: string;
}

export interface CohortChangeBlock {
  readonly user_ids?: string[];
  readonly device_ids?: string[];
  readonly aliases?: { alias_name: string; alias_label: string }[];
  readonly should_remove?: true;
}

export interface CohortChangesBody {
  readonly partner_api_key: string;
  readonly client_secret: string;
  readonly cohort_id: string;
  readonly cohort_changes: CohortChangeBlock[];
}

/** POST /partners/{slug}/cohorts — all five fields are required; calling again with a new name renames. */
export function cohortNameBody(
  credentials: PartnerCredentials,
  cohort: { id: string; name: string; createdAt: string },
): CohortNameBody {
  requireCohortId(cohort.id);
  if (cohort.name.trim() === '')
    throw new DeliveryError(
      'bad_request',
      `cohort ${cohort.id} has an empty name; Braze requires a non-empty display name`,
    );
  if (Number.isNaN(Date.parse(cohort.createdAt))) {
    throw new DeliveryError(
      'bad_request',
      `cohort ${cohort.id} has created_at ${JSON.stringify(cohort.createdAt)}, which is not an ISO-8601 timestamp`,
    );
  }
  return {
    partner_api_key: credentials.partnerApiKey,
    client_secret: credentials.clientSecret,
    cohort_id: cohort.id,
    name: cohort.name,
    created_at: cohort.createdAt,
  };
}

/**
 * POST /partners/{slug}/cohorts/users — one add block and one remove block (`should_remove: true`); a block
 * with no identifiers, and an array with no entries, are left out rather than sent empty.
 */
export function cohortChangesBody(
  credentials: PartnerCredentials,
  cohortId: string,
  change: MembershipChange,
): CohortChangesBody {
  requireCohortId(cohortId);
  const count = change.add.length + change.remove.length;
  if (count > MAX_IDENTIFIERS_PER_REQUEST) {
    throw new DeliveryError(
      'bad_request',
      `a batch for cohort ${cohortId} holds ${count} identifiers; Braze accepts at most ${MAX_IDENTIFIERS_PER_REQUEST} per request`,
    );
  }
  assertEachIdentifierOnce(cohortId, change);
  const cohort_changes: CohortChangeBlock[] = [];
  const add = changeBlock(change.add, false);
  const remove = changeBlock(change.remove, true);
  if (add) cohort_changes.push(add);
  if (remove) cohort_changes.push(remove);
  return {
    partner_api_key: credentials.partnerApiKey,
    client_secret: credentials.clientSecret,
    cohort_id: cohortId,
    cohort_changes,
  };
}

function changeBlock(ids: readonly Identifier[], remove: boolean): CohortChangeBlock | undefined {
  if (ids.length === 0) return undefined;
  const userIds: string[] = [];
  const deviceIds: string[] = [];
  const aliases: { alias_name: string; alias_label: string }[] = [];
  for (const id of ids) {
    // Values go out untouched: external ids are case-sensitive and must not be trimmed (docs/design.md).
    if (id.kind === 'external_id') userIds.push(id.value);
    else if (id.kind === 'device_id') deviceIds.push(id.value);
    else aliases.push({ alias_name: id.name, alias_label: id.label });
  }
  return {
    ...(userIds.length > 0 && { user_ids: userIds }),
    ...(deviceIds.length > 0 && { device_ids: deviceIds }),
    ...(aliases.length > 0 && { aliases }),
    ...(remove && { should_remove: true as const }),
  };
}

/** docs/design.md: never the same identifier in both blocks of one request, nor twice in one block. */
function assertEachIdentifierOnce(cohortId: string, change: MembershipChange): void {
  // One map per kind, keyed by the value (an alias by its key): no key string is built per identifier.
  const seen: Record<Identifier['kind'], Map<string, 'add' | 'remove'>> = {
    external_id: new Map(),
    device_id: new Map(),
    alias: new Map(),
  };
  const visit = (id: Identifier, block: 'add' | 'remove'): void => {
    const byKind = seen[id.kind];
    const key = id.kind === 'alias' ? identifierKey(id) : id.value;
    const earlier = byKind.get(key);
    if (earlier !== undefined) {
      const { kind, value } = describeIdentifier(id);
      const where = earlier === block ? `twice in the ${block} block` : 'in both the add and the remove block';
      throw new DeliveryError(
        'bad_request',
        `${kind} ${JSON.stringify(value)} appears ${where} of one request for cohort ${cohortId}; Braze requires each identifier at most once per request`,
      );
    }
    byKind.set(key, block);
  };
  for (const id of change.add) visit(id, 'add');
  for (const id of change.remove) visit(id, 'remove');
}

function requireCohortId(id: string): void {
  if (id === '')
    throw new DeliveryError('bad_request', 'cohort_id is empty; Braze requires a stable, non-empty cohort id');
}

export function identifierCount(change: MembershipChange): number {
  return change.add.length + change.remove.length;
}
