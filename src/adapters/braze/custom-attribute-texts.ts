// What a person reads when /users/track refuses a REST API key (docs/design.md, "Custom attribute"): 401 is a
// wrong, deleted or other-instance key; 403 a key without the users.track permission, and since Braze keys
// cannot be edited, the remedy is a new key.
import type { Identifier } from '../../domain/identifiers.ts';
import type { RemedyContext } from '../../ports/destination.ts';
import type { FailureTexts } from './classify.ts';
import { endpointNote, TEST_AND_RUN_AGAIN, targetLabel, targetPatchPath } from './remedies.ts';

export const API_KEYS_PAGE = 'Settings → APIs and Identifiers → API Keys';

export function restKeyTexts(ctx: { endpoint: string; restApiKeyHint: string }): FailureTexts {
  return {
    credentials(status, text) {
      const answered = `Braze instance ${ctx.endpoint} answered HTTP ${status} ${text}`;
      if (status === 403) {
        return (
          `${answered}: the REST API key (ending ${ctx.restApiKeyHint}) lacks the users.track permission. ` +
          `Braze keys cannot be edited: in Braze → ${API_KEYS_PAGE}, create a new key with users.track and save it on this target.`
        );
      }
      return (
        `${answered}: the REST API key (ending ${ctx.restApiKeyHint}) is wrong, was deleted, or belongs to another Braze instance. ` +
        `Check that ${ctx.endpoint} is the REST endpoint your Braze dashboard uses, then create a key with users.track in Braze → ${API_KEYS_PAGE} and save it on this target.`
      );
    },
    badRequestHint(status, text) {
      if (status === 400 && /max input length/i.test(text))
        return ' Braze accepts fewer objects per request than configured: lower BRAZE_TRACK_MAX_OBJECTS.';
      if (status === 404) return ` Check that ${ctx.endpoint} is a Braze REST endpoint.`;
      if (status === 413) return " The request body is over Braze's 4 MB limit.";
      return '';
    },
  };
}

const UPDATE_ONLY =
  'cohort-sync only updates existing Braze profiles (_update_existing_only) and Braze skips unknown users without saying so';

/** Whether writing the attribute reaches the user (explain): "sent" never proves a profile matched. */
export function customAttributeRule(id: Identifier): string {
  switch (id.kind) {
    case 'external_id':
      return `${UPDATE_ONLY}: the attribute is set only if a Braze user with external_id "${id.value}" exists (external ids are case-sensitive).`;
    case 'alias':
      return `${UPDATE_ONLY}: the attribute is set only if a Braze user with alias_name "${id.name}" and alias_label "${id.label}" exists.`;
    case 'device_id':
      return 'Braze /users/track cannot update a user by device id: this identifier is never sent in the custom attribute mode.';
  }
}

/** What to do when Braze refused the REST API key of a target (mails): keys cannot be edited, so a new one. */
export function restApiKeyRemedy(about: RemedyContext): string {
  return [
    `Braze refused the REST API key of ${targetLabel(about)} (HTTP 401: wrong or deleted key, or another instance; HTTP 403: the key lacks the users.track permission).`,
    `1. Braze keys cannot be edited: in Braze, open ${API_KEYS_PAGE} and create a new key with the users.track permission.`,
    `2. Update the target with it: PATCH ${targetPatchPath(about)} {"restApiKey": "…"}, or in the web UI.`,
    `3. Check the target's REST endpoint${endpointNote(about)} is your Braze instance's: a key works only on its own instance.`,
    TEST_AND_RUN_AGAIN,
  ].join('\n');
}
