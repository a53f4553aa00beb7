// The fix a person can act on for a failed run, by the error code the run carries (docs/ui.md "Run").
export function fixFor(code: string, targetName: string, delivery?: string): string | null {
  const key = delivery === 'custom_attribute' ? 'REST API key' : 'Data Import Key';
  switch (code) {
    case 'braze_credentials':
      return delivery === 'custom_attribute'
        ? `Braze rejected the REST API key of target ${targetName}: create a key with the users.track permission in Braze → Settings → APIs and Identifiers, then use "Rotate key" on the Braze destination page.`
        : `Braze rejected the ${key} of target ${targetName}: regenerate it in Braze → Partner Integrations → Technology Partners, then use "Rotate key" on the Braze destination page.`;
    case 'braze_unavailable':
      return 'Braze kept answering "slow down" or "unavailable", or could not be reached. Nothing acknowledged is lost: the next run sends only what is missing; use Run now to retry sooner.';
    case 'braze_rejected':
      return "Braze rejected a request as invalid: open Requests below to read Braze's answer.";
    case 'target_missing':
      return 'The Braze target of this sync was deleted: delete the sync, or sync the cohort to another target.';
    case 'cohort_missing':
      return 'The cohort of this sync was deleted: delete the sync.';
    default:
      return null;
  }
}
