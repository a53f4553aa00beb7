import { describe, expect, it } from 'vitest';
import type { BrazeHttp } from '../../src/adapters/braze/braze-http.ts';
import { CohortImportDefinition, CustomAttributeDefinition } from '../../src/adapters/braze/index.ts';
import { remedyFor } from '../../src/app/notification-mails.ts';

// The remedies never call Braze: the definitions are built without a client.
const noHttp = {} as BrazeHttp;
const cohortImport = new CohortImportDefinition(noHttp, { partnerSlug: 'cohort-sync', partnerKeys: {} });
const customAttribute = new CustomAttributeDefinition(noHttp);
const ctx = {
  project: { id: 'prj_1', name: 'Shop' },
  target: { id: 'tgt_1', name: 'EU workspace', endpoint: 'https://rest.fra-01.braze.eu' },
};

describe('failure remedies come from the destination definition of the target', () => {
  it('asks for a new Data Import Key in cohort import mode and a new REST API key with users.track in custom attribute mode', () => {
    const partner = remedyFor('braze_credentials', { ...ctx, destination: cohortImport });
    expect(partner).toContain('Partner Integrations → Technology Partners');
    expect(partner).toContain('{"dataImportKey": "…"}');
    const rest = remedyFor('braze_credentials', { ...ctx, destination: customAttribute });
    expect(rest).toContain('create a new key with the users.track permission');
    expect(rest).toContain('PATCH /api/v1/projects/prj_1/destinations/braze/targets/tgt_1 {"restApiKey": "…"}');
    expect(rest).toContain('(https://rest.fra-01.braze.eu)');
  });

  it('words the codes no definition gives in the app, naming whom the target delivered to', () => {
    expect(remedyFor('braze_unavailable', { ...ctx, destination: customAttribute })).toContain('Nothing is lost');
    expect(remedyFor('target_missing', { ...ctx, destination: { product: 'Braze', remedy: () => undefined } })).toBe(
      'The Braze target of this sync was deleted. Delete the sync, or create a new sync of the cohort to another target.',
    );
  });
});
