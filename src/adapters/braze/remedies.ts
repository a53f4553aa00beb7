// What a person can do about a run that failed with one of the Braze failure codes (brazeFailureCode), for
// the failure mails. The key differs by delivery mode (a Data Import Key, or a REST API key with
// users.track), so each definition gives the steps for its key; the other codes read the same for both.
import type { RemedyContext } from '../../ports/destination.ts';

/** How Braze is named where people read about it (mails, explanations). */
export const BRAZE = 'Braze';

/** The steps to replace a refused key, for the `braze_credentials` code. */
export type CredentialsRemedy = (about: RemedyContext) => string;

export function brazeRemedy(code: string, about: RemedyContext, credentials: CredentialsRemedy): string | undefined {
  switch (code) {
    case 'braze_credentials':
      return credentials(about);
    case 'braze_unavailable':
      return [
        'Braze kept answering "slow down" or "unavailable" (423/429/5xx), or could not be reached, for longer than the retry policy allows.',
        'Nothing is lost: acknowledged batches stay recorded and the next run sends only what is still missing.',
        "The next scheduled run retries by itself; run the sync now to retry sooner. If it persists, check Braze's status page and that this server can reach the target's endpoint.",
      ].join('\n');
    case 'braze_rejected':
      return [
        'Braze rejected a request as invalid (400/404/413). This is usually a problem with the data or with cohort-sync itself.',
        `Look at the run's request log (GET /api/v1/projects/${about.projectId}/runs/{runId}/requests) for Braze's answer, and report it to your operator if the data looks right.`,
      ].join('\n');
    default:
      return undefined;
  }
}

export const targetLabel = (about: RemedyContext) => `target "${about.targetName}" (${about.targetId})`;
export const targetPatchPath = (about: RemedyContext) =>
  `/api/v1/projects/${about.projectId}/destinations/braze/targets/${about.targetId}`;
export const endpointNote = (about: RemedyContext) => (about.endpoint ? ` (${about.endpoint})` : '');
export const TEST_AND_RUN_AGAIN =
  '4. Test the target (POST …/targets/{id}/test), then run the sync again (POST …/syncs/{id}/runs). A successful run sends a recovery notice.';
