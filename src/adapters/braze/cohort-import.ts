// Delivery mode "cohort_import": Braze's partner cohort import endpoints (docs/design.md, "Cohort import";
// Braze "Partner cohort import integration", https://www.braze.com/docs/partners/isv_partners/cohort_import),
// as one destination definition. Keys travel in the body: the operator's partner API key for the endpoint's
// region, and the customer's Data Import Key, which is also the budget key (250,000 requests per hour).

import type { Identifier, IdentifierKind } from '../../domain/identifiers.ts';
import {
  type Audience,
  type BatchResult,
  type CallOptions,
  type CallStats,
  DeliveryError,
  type DestinationDefinition,
  type DestinationTarget,
  type MembershipChange,
  type RemedyContext,
} from '../../ports/destination.ts';
import type { RequestBudget } from '../../ports/limiter.ts';
import type { BrazeHttp } from './braze-http.ts';
import { brazeFailureCode } from './classify.ts';
import { cohortImportRule, dataImportKeyRemedy, partnerTexts } from './cohort-import-texts.ts';
import { BRAZE_ENDPOINTS } from './endpoints.ts';
import { errorsOf, outcomesByNamedValue } from './item-outcomes.ts';
import { type ChosenPartnerKey, choosePartnerKey, type PartnerKeys } from './partner-keys.ts';
import { BRAZE, brazeRemedy } from './remedies.ts';
import {
  cohortChangesBody,
  cohortNameBody,
  identifierCount,
  MAX_IDENTIFIERS_PER_REQUEST,
  type PartnerCredentials,
} from './request-body.ts';
import { keyHint } from './secrets.ts';

export interface CohortImportOptions {
  /** Path segment Braze assigned to the partner: POST {endpoint}/partners/{slug}/cohorts. */
  readonly partnerSlug: string;
  /** Partner API key per region; US is the fallback for regions without one. */
  readonly partnerKeys: PartnerKeys;
  /** Requests per Data Import Key; Braze's default is 250,000 per hour. */
  readonly budget?: RequestBudget;
}

export const COHORT_IMPORT_BUDGET: RequestBudget = { requests: 250_000, perMs: 3_600_000 };

/** A throw-away cohort the connection test names; it shows up (empty) under the partner filter in Braze. */
export const CONNECTION_TEST_COHORT_ID = 'cohort-sync-connection-test';
const CONNECTION_TEST_COHORT_NAME = 'cohort-sync connection test';
/** A person is waiting on "Test connection": one retry for a blip, not the full policy of minutes. */
const CONNECTION_TEST_MAX_ATTEMPTS = 2;

const ACCEPTS: readonly IdentifierKind[] = ['external_id', 'device_id', 'alias'];

export class CohortImportDefinition implements DestinationDefinition {
  readonly mode = 'cohort_import' as const;
  readonly product = BRAZE;
  readonly endpoints = BRAZE_ENDPOINTS;
  readonly secret = { field: 'dataImportKey' as const, label: 'the Data Import Key' };
  readonly audience = 'named' as const;
  /** Cohort import targets were keyed before there were modes; their keys stay as they were. */
  readonly workspaceKeyNamesMode = false;
  readonly accepts = ACCEPTS;
  readonly batch = { max: MAX_IDENTIFIERS_PER_REQUEST, unit: 'identifiers' as const };
  readonly budget: RequestBudget;
  /** Braze never says which identifiers matched a profile, but unknown ones are dropped: "sent" is honest. */
  readonly reportsMatches = false;
  private readonly slug: string;
  private readonly partnerKeys: PartnerKeys;

  constructor(
    private readonly http: BrazeHttp,
    options: CohortImportOptions,
  ) {
    if (!/^[A-Za-z0-9._~-]+$/.test(options.partnerSlug)) {
      throw new RangeError(`partnerSlug ${JSON.stringify(options.partnerSlug)} must be a single URL path segment`);
    }
    this.slug = options.partnerSlug;
    this.partnerKeys = { ...options.partnerKeys };
    this.budget = options.budget ?? COHORT_IMPORT_BUDGET;
  }

  refusal(kind: IdentifierKind): string {
    return `the cohort import mode cannot address users by ${kind}`;
  }

  segmentFilter(audience: Audience): string {
    return `Partner filter "${this.slug} Cohorts" includes "${audience.name}"`;
  }

  explainRule(id: Identifier, userId: string | null): string {
    return cohortImportRule(id, userId);
  }

  budgetKey(target: DestinationTarget): string {
    return target.secret;
  }

  failureCode(kind: 'bad_request' | 'credentials' | 'retries_exhausted'): string {
    return brazeFailureCode(kind);
  }

  remedy(code: string, about: RemedyContext): string | undefined {
    return brazeRemedy(code, about, dataImportKeyRemedy);
  }

  /** Creates or renames the cohort (POST /partners/{slug}/cohorts); called before the first batch and on rename. */
  async ensureAudience(target: DestinationTarget, audience: Audience, opts?: CallOptions): Promise<CallStats> {
    const answer = await this.call(
      target,
      '/cohorts',
      (credentials) =>
        cohortNameBody(credentials, { id: audience.id, name: audience.name, createdAt: audience.createdAt }),
      0,
      opts,
    );
    return { requests: answer.requests, retries: answer.retries };
  }

  async sendBatch(
    target: DestinationTarget,
    audience: Audience,
    change: MembershipChange,
    opts?: CallOptions,
  ): Promise<BatchResult> {
    // Nothing to change: Braze counts data points, and an empty cohort_changes has no documented meaning.
    if (identifierCount(change) === 0) return { requests: 0, retries: 0, outcomes: [] };
    const answer = await this.call(
      target,
      '/cohorts/users',
      (credentials) => cohortChangesBody(credentials, audience.id, change),
      identifierCount(change),
      opts,
    );
    const items = [...change.add, ...change.remove];
    return {
      requests: answer.requests,
      retries: answer.retries,
      outcomes: outcomesByNamedValue(items, errorsOf(answer.body), [target.secret]),
    };
  }

  /** docs/design.md "Test connection": a name call on a throw-away cohort id, reported in plain words. */
  async testConnection(target: DestinationTarget): Promise<{ ok: boolean; message: string }> {
    try {
      const answer = await this.call(
        target,
        '/cohorts',
        (credentials) =>
          cohortNameBody(credentials, {
            id: CONNECTION_TEST_COHORT_ID,
            name: CONNECTION_TEST_COHORT_NAME,
            createdAt: new Date(this.http.now()).toISOString(),
          }),
        0,
        undefined,
        { ...this.http.retry, maxAttempts: Math.min(this.http.retry.maxAttempts, CONNECTION_TEST_MAX_ATTEMPTS) },
      );
      const warnings =
        answer.partialErrors.length > 0 ? ` Braze also reported: ${answer.partialErrors.join('; ')}` : '';
      return {
        ok: true,
        message: `Connected to ${target.endpoint}: Braze accepted the partner API key and the Data Import Key.${warnings}`,
      };
    } catch (error) {
      if (!(error instanceof DeliveryError)) throw error;
      if (error.kind === 'retries_exhausted')
        return { ok: false, message: `cannot reach ${target.endpoint}: ${error.message}` };
      return { ok: false, message: error.message };
    }
  }

  private async call(
    target: DestinationTarget,
    path: string,
    buildBody: (credentials: PartnerCredentials) => object,
    identifiers: number,
    opts: CallOptions | undefined,
    policy = this.http.retry,
  ) {
    const base = checkedBase(target.endpoint);
    if (target.secret === '') {
      throw new DeliveryError(
        'credentials',
        `No Data Import Key is stored for ${target.endpoint}: generate one in Braze → Partner Integrations → Technology Partners → ${this.slug}.`,
      );
    }
    const partnerKey: ChosenPartnerKey = choosePartnerKey(this.partnerKeys, base);
    const body = buildBody({ partnerApiKey: partnerKey.key, clientSecret: target.secret });
    return this.http.send(
      {
        url: `${base}/partners/${this.slug}${path}`,
        endpoint: target.endpoint,
        body,
        identifiers,
        secrets: [partnerKey.key, target.secret],
        budgetKey: this.budgetKey(target),
        budget: this.budget,
        texts: partnerTexts({
          endpoint: target.endpoint,
          partnerSlug: this.slug,
          region: partnerKey.region,
          partnerKeyRegion: partnerKey.keyRegion,
          partnerKeyHint: keyHint(partnerKey.key),
          dataImportKeyHint: keyHint(target.secret),
        }),
      },
      opts,
      policy,
    );
  }
}

/** The endpoint without trailing slashes, refused unless it is an http(s) URL. */
export function checkedBase(endpoint: string): string {
  const base = endpoint.trim().replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new DeliveryError('bad_request', `${JSON.stringify(endpoint)} is not a valid Braze REST endpoint URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new DeliveryError('bad_request', `${endpoint} is not an http(s) URL`);
  }
  return base;
}
