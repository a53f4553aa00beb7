// What a person reads when the partner cohort import endpoints refuse a call (docs/design.md, "Cohort import":
// Braze's 401 texts decide who must act, and how).
import type { BrazeRegion } from '../../domain/braze-instances.ts';
import type { Identifier } from '../../domain/identifiers.ts';
import type { RemedyContext } from '../../ports/destination.ts';
import type { FailureTexts } from './classify.ts';
import { endpointNote, TEST_AND_RUN_AGAIN, targetLabel, targetPatchPath } from './remedies.ts';

export interface PartnerTextContext {
  /** The customer's REST endpoint. */
  readonly endpoint: string;
  readonly partnerSlug: string;
  /** Region of the endpoint, and the region whose partner key was used (differs when US was the fallback). */
  readonly region: BrazeRegion;
  readonly partnerKeyRegion: BrazeRegion;
  readonly partnerKeyHint: string;
  readonly dataImportKeyHint: string;
}

const PARTNER_PAGE = 'Partner Integrations → Technology Partners';

export function partnerTexts(ctx: PartnerTextContext): FailureTexts {
  return {
    badRequestHint: (status) =>
      status === 404
        ? ` Check that ${ctx.endpoint} is a Braze REST endpoint and that the partner slug "${ctx.partnerSlug}" is right.`
        : status === 413
          ? " The request body is over Braze's 4 MB limit."
          : '',
    credentials: (status, text) => credentialsMessage(status, text, ctx),
  };
}

function credentialsMessage(status: number, text: string, ctx: PartnerTextContext): string {
  const lower = text.toLowerCase();
  const answered = `Braze instance ${ctx.endpoint} answered HTTP ${status} ${text}`;
  if (lower.includes('invalid client secret')) {
    return (
      `${answered}: the Data Import Key (ending ${ctx.dataImportKeyHint}) is wrong, was revoked, or belongs to another Braze instance. ` +
      `In Braze, open ${PARTNER_PAGE} → ${ctx.partnerSlug}, check that the REST endpoint shown there is ${ctx.endpoint}, ` +
      'generate a new Data Import Key and save it on this target.'
    );
  }
  if (lower.includes('invalid partner api key')) {
    const fallback =
      ctx.partnerKeyRegion === ctx.region
        ? ''
        : ` No key is configured for region ${ctx.region}, so the ${ctx.partnerKeyRegion} key was used; ${ctx.region} instances likely need their own.`;
    return (
      `${answered}: the partner API key of this service (ending ${ctx.partnerKeyHint}) is refused. ` +
      `This is operator configuration, not the customer's key: set BRAZE_PARTNER_API_KEY_${ctx.region} to the partner API key Braze issued for ${ctx.region} instances and restart.${fallback}`
    );
  }
  if (lower.includes('partner not enabled')) {
    return (
      `${answered}: the ${ctx.partnerSlug} integration is not enabled for the workspace of the Data Import Key (ending ${ctx.dataImportKeyHint}). ` +
      `In Braze, open ${PARTNER_PAGE} → ${ctx.partnerSlug} and enable the integration, or use a key from the workspace where it is enabled.`
    );
  }
  return (
    `${answered}. A key used on the wrong instance gets this answer: check that ${ctx.endpoint} is the instance the customer's Braze dashboard uses, ` +
    `then generate a new Data Import Key in Braze → ${PARTNER_PAGE} → ${ctx.partnerSlug} (the current one ends ${ctx.dataImportKeyHint}).`
  );
}

const NEVER_CREATES = 'Braze never creates users through cohort import';

/** Whether Braze puts the user in the segment for this identifier (docs/design.md, "Who Braze matches"). */
export function cohortImportRule(id: Identifier, userId: string | null): string {
  switch (id.kind) {
    case 'external_id':
      return `${NEVER_CREATES}: the user is in the segment only if a Braze user with external_id "${id.value}" exists (external ids are case-sensitive).`;
    case 'alias':
      return `${NEVER_CREATES}: the user is in the segment only if a Braze user with alias_name "${id.name}" and alias_label "${id.label}" exists.`;
    case 'device_id':
      return userId != null
        ? `Braze ignores device ids of identified users: this user is identified (user_id "${userId}"), so Braze reaches them by external_id "${userId}", not by device id "${id.value}".`
        : `${NEVER_CREATES}: the user is in the segment only if an anonymous Braze user with device id "${id.value}" exists; once that user is identified in Braze, Braze ignores the device id and only the external_id reaches them.`;
  }
}

/** What to do when Braze refused the Data Import Key of a target (mails). */
export function dataImportKeyRemedy(about: RemedyContext): string {
  return [
    `Braze refused the Data Import Key of ${targetLabel(about)} (HTTP 401/403).`,
    '1. In Braze, open Partner Integrations → Technology Partners → this integration, and regenerate the Data Import Key (or copy the current one).',
    `2. Update the target with it: PATCH ${targetPatchPath(about)} {"dataImportKey": "…"}, or in the web UI.`,
    `3. Check the target's REST endpoint${endpointNote(about)} is your Braze instance's (e.g. https://rest.iad-01.braze.com): a key works only on its own instance.`,
    TEST_AND_RUN_AGAIN,
  ].join('\n');
}
