// Delivery mode "custom_attribute": membership written as a custom attribute on existing profiles through
// POST /users/track with the customer's own REST API key — no partner key needed (docs/design.md, "Custom
// attribute"; Braze "Track users", https://www.braze.com/docs/api/endpoints/user_data/post_user_track).
// One object per user: external_id or user_alias, always `_update_existing_only: true` so no profile is ever
// created; array style adds/removes the sync's value, boolean style sets the sync's attribute true/false.

import { describeIdentifier, type Identifier, type IdentifierKind } from '../../domain/identifiers.ts';
import {
  type Audience,
  type BatchResult,
  type CallOptions,
  DeliveryError,
  type DestinationDefinition,
  type DestinationTarget,
  type ItemOutcome,
  type MembershipChange,
  type RemedyContext,
} from '../../ports/destination.ts';
import type { RequestBudget } from '../../ports/limiter.ts';
import type { BrazeHttp } from './braze-http.ts';
import { brazeFailureCode } from './classify.ts';
import { checkedBase } from './cohort-import.ts';
import { customAttributeRule, restApiKeyRemedy, restKeyTexts } from './custom-attribute-texts.ts';
import { BRAZE_ENDPOINTS } from './endpoints.ts';
import { errorsOf, outcomesByIndex } from './item-outcomes.ts';
import { BRAZE, brazeRemedy } from './remedies.ts';
import { keyHint } from './secrets.ts';

/** Braze's limit on objects per /users/track request, across attributes, events and purchases. */
export const MAX_TRACK_OBJECTS = 75;
/** Braze's burst limit for /users/track on data-point contracts: 3,000 requests per 3 seconds. */
export const TRACK_BUDGET: RequestBudget = { requests: 3_000, perMs: 3_000 };
/** Braze rejects longer external ids per object (`'external_id' must be fewer than 988 bytes`). */
export const MAX_EXTERNAL_ID_BYTES = 987;

export interface CustomAttributeOptions {
  /** Objects per request, at most 75 (Braze may lower it; the operator can follow). */
  readonly maxObjects?: number;
  readonly budget?: RequestBudget;
}

const ACCEPTS: readonly IdentifierKind[] = ['external_id', 'alias'];
const CONNECTION_TEST_MAX_ATTEMPTS = 2;

interface TrackObject {
  readonly index: number;
  readonly body: Record<string, unknown>;
}

export class CustomAttributeDefinition implements DestinationDefinition {
  readonly mode = 'custom_attribute' as const;
  readonly product = BRAZE;
  readonly endpoints = BRAZE_ENDPOINTS;
  readonly secret = {
    field: 'restApiKey' as const,
    label: 'the REST API key (with the users.track permission)',
  };
  readonly audience = 'attribute' as const;
  readonly workspaceKeyNamesMode = true;
  readonly accepts = ACCEPTS;
  readonly batch: { readonly max: number; readonly unit: 'users' };
  readonly budget: RequestBudget;
  /** Braze skips unknown users silently here: a delivered item is "sent", never "matched". */
  readonly reportsMatches = false;

  constructor(
    private readonly http: BrazeHttp,
    options: CustomAttributeOptions = {},
  ) {
    const max = options.maxObjects ?? MAX_TRACK_OBJECTS;
    if (!Number.isInteger(max) || max < 1 || max > MAX_TRACK_OBJECTS)
      throw new RangeError(`maxObjects must be a whole number from 1 to ${MAX_TRACK_OBJECTS}`);
    this.batch = { max, unit: 'users' };
    this.budget = options.budget ?? TRACK_BUDGET;
  }

  refusal(kind: IdentifierKind): string {
    return kind === 'device_id'
      ? 'the custom_attribute mode cannot use device ids: Braze /users/track updates a profile only by external_id or user alias, never by device id. Use a user_id or user_alias mapping, or the cohort_import mode.'
      : `the custom_attribute mode cannot address users by ${kind}`;
  }

  segmentFilter(audience: Audience): string {
    const a = audience.attribute;
    if (!a) return '';
    return a.value === null
      ? `Custom attribute ${a.name} is true`
      : `Custom attribute ${a.name} includes value ${a.value}`;
  }

  explainRule(id: Identifier, _userId: string | null): string {
    return customAttributeRule(id);
  }

  budgetKey(target: DestinationTarget): string {
    return target.secret;
  }

  failureCode(kind: 'bad_request' | 'credentials' | 'retries_exhausted'): string {
    return brazeFailureCode(kind);
  }

  remedy(code: string, about: RemedyContext): string | undefined {
    return brazeRemedy(code, about, restApiKeyRemedy);
  }

  async sendBatch(
    target: DestinationTarget,
    audience: Audience,
    change: MembershipChange,
    opts?: CallOptions,
  ): Promise<BatchResult> {
    const attribute = audience.attribute;
    if (!attribute) throw new DeliveryError('bad_request', `audience ${audience.id} has no attribute to write`);
    const items: [Identifier, 'add' | 'remove'][] = [
      ...change.add.map((i) => [i, 'add'] as [Identifier, 'add']),
      ...change.remove.map((i) => [i, 'remove'] as [Identifier, 'remove']),
    ];
    if (items.length > this.batch.max) {
      throw new DeliveryError(
        'bad_request',
        `a batch of ${items.length} users is over the ${this.batch.max} objects per /users/track request`,
      );
    }
    // Items Braze would refuse are failed here, without a request.
    const outcomes: (ItemOutcome | undefined)[] = items.map(([id]) => localRefusal(id));
    const objects: TrackObject[] = [];
    items.forEach(([id, op], index) => {
      if (outcomes[index]) return;
      objects.push({ index, body: trackObject(id, attribute, op) });
    });
    if (objects.length === 0) return { requests: 0, retries: 0, outcomes: outcomes.map((o) => o ?? SENT) };
    const answer = await this.http.send(
      this.call(target, { attributes: objects.map((o) => o.body) }, objects.length),
      opts,
    );
    const answered = outcomesByIndex(objects.length, errorsOf(answer.body), [target.secret]);
    objects.forEach((o, i) => {
      outcomes[o.index] = answered[i];
    });
    return { requests: answer.requests, retries: answer.retries, outcomes: outcomes.map((o) => o ?? SENT) };
  }

  /**
   * An empty body changes no profile: a key with users.track gets Braze's 400 "Valid data must be provided…",
   * a bad key 401, a key without the permission 403 (docs/design.md, "Test connection").
   */
  async testConnection(target: DestinationTarget): Promise<{ ok: boolean; message: string }> {
    try {
      await this.http.send(this.call(target, {}, 0), undefined, {
        ...this.http.retry,
        maxAttempts: Math.min(this.http.retry.maxAttempts, CONNECTION_TEST_MAX_ATTEMPTS),
      });
      return { ok: true, message: `Connected to ${target.endpoint}: Braze accepted the REST API key.` };
    } catch (error) {
      if (!(error instanceof DeliveryError)) throw error;
      if (error.kind === 'bad_request' && error.status === 400)
        return {
          ok: true,
          message: `Connected to ${target.endpoint}: Braze accepted the REST API key and its users.track permission (an empty request, which changes no profile, got the expected 400).`,
        };
      if (error.kind === 'retries_exhausted')
        return { ok: false, message: `cannot reach ${target.endpoint}: ${error.message}` };
      return { ok: false, message: error.message };
    }
  }

  private call(target: DestinationTarget, body: object, objects: number) {
    const base = checkedBase(target.endpoint);
    if (target.secret === '')
      throw new DeliveryError('credentials', `No REST API key is stored for ${target.endpoint}.`);
    return {
      url: `${base}/users/track`,
      endpoint: target.endpoint,
      body,
      identifiers: objects,
      headers: { authorization: `Bearer ${target.secret}` },
      secrets: [target.secret],
      budgetKey: this.budgetKey(target),
      budget: this.budget,
      texts: restKeyTexts({ endpoint: target.endpoint, restApiKeyHint: keyHint(target.secret) }),
    };
  }
}

const SENT: ItemOutcome = { status: 'sent' };

function localRefusal(id: Identifier): ItemOutcome | undefined {
  if (id.kind === 'device_id')
    return { status: 'failed', reason: 'Braze /users/track cannot update a user by device id' };
  if (id.kind === 'external_id' && Buffer.byteLength(id.value) > MAX_EXTERNAL_ID_BYTES)
    return { status: 'failed', reason: `'external_id' must be fewer than ${MAX_EXTERNAL_ID_BYTES + 1} bytes` };
  return undefined;
}

/** One attributes object; values go out untouched (external ids are case-sensitive). */
function trackObject(
  id: Identifier,
  attribute: { name: string; value: string | null },
  op: 'add' | 'remove',
): Record<string, unknown> {
  const who =
    id.kind === 'external_id'
      ? { external_id: id.value }
      : id.kind === 'alias'
        ? { user_alias: { alias_name: id.name, alias_label: id.label } }
        : (() => {
            throw new Error(`unreachable: ${describeIdentifier(id).kind}`);
          })();
  const value = attribute.value === null ? op === 'add' : { [op]: [attribute.value] };
  return { ...who, _update_existing_only: true, [attribute.name]: value };
}
