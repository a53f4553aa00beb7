import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CADENCE_HELP, cadenceOf, SyncWizard } from '../src/pages/SyncWizard';
import { answerApi, renderAt } from './render';

const TARGETS = [
  { id: 't1', name: 'Default', endpoint: 'https://rest.iad-01.braze.com', mapping: { type: 'user_id' }, createdAt: '' },
  {
    id: 't2',
    name: 'EU aliases',
    endpoint: 'https://rest.fra-01.braze.eu',
    mapping: { type: 'user_alias', aliasLabel: 'crm' },
    createdAt: '',
  },
];

function api() {
  return answerApi({
    'GET /server': { endpoints: [], sandbox: null, mail: { delivery: 'log', from: '' }, cohortNamePrefix: 'cs' },
    'GET /projects/p1/cohorts/c1': { id: 'c1', name: 'Buyers', type: 'static', size: 3 },
    'GET /projects/p1/destinations/braze': { enabled: true, targets: TARGETS },
    'POST /projects/p1/syncs/preview': {
      add: { count: 2, sample: [{ kind: 'alias', value: 'c-1', member: null }] },
      remove: { count: 0, sample: [] },
      skipped: { count: 1, reasons: { no_alias_value: 1 }, sample: [] },
      batches: 1,
      requests: 2,
    },
    'POST /projects/p1/syncs': { id: 's1' },
  });
}

describe('the sync wizard', () => {
  it('walks Braze → Next → target → cadence → preview → Save, in the seed’s words', async () => {
    const calls = api();
    renderAt('/p/p1/cohorts/c1/sync', '/p/:projectId/cohorts/:cohortId/sync', <SyncWizard />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Next' }));
    expect(screen.getByText('Select Braze', { selector: 'p' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Braze' }));
    await user.click(screen.getByRole('button', { name: 'Next' }));
    await user.click(screen.getByRole('button', { name: 'Next' }));
    expect(screen.getByText('Choose the account (target) to sync to')).toBeTruthy();
    await user.click(await screen.findByRole('radio', { name: /^EU aliases — User alias \(crm\)/ }));
    await user.click(screen.getByRole('button', { name: 'Next' }));
    for (const label of ['One-Time Sync', 'Scheduled Sync', 'Real-Time Sync'])
      expect(screen.getByRole('radio', { name: label })).toBeTruthy();
    expect(screen.getByText(CADENCE_HELP.real_time)).toBeTruthy();
    await user.click(screen.getByRole('radio', { name: 'Scheduled Sync' }));
    await user.click(screen.getByRole('radio', { name: 'Cron' }));
    await user.click(screen.getByRole('button', { name: 'Next' }));
    expect(screen.getByText('Write a cron expression, e.g. 0 6 * * 1-5')).toBeTruthy();
    await user.type(screen.getByLabelText('Cron expression (UTC)'), '0 6 * * 1-5');
    await user.click(screen.getByRole('button', { name: 'Next' }));
    expect(await screen.findByTestId('preview-added')).toHaveProperty('textContent', '2');
    expect(screen.getByTestId('preview-skipped').textContent).toBe('1');
    expect(screen.getByText('no_alias_value (1)')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.path === '/projects/p1/syncs')).toBe(true));
    expect(calls.find((c) => c.path === '/projects/p1/syncs/preview')?.body).toEqual({
      cohortId: 'c1',
      targetId: 't2',
    });
    expect(calls.find((c) => c.path === '/projects/p1/syncs')?.body).toEqual({
      cohortId: 'c1',
      targetId: 't2',
      cadence: 'cron',
      cron: '0 6 * * 1-5',
    });
  });

  it('maps the three cadences to the API', () => {
    expect(cadenceOf('one_time', 'daily', '')).toEqual({ cadence: 'one_time' });
    expect(cadenceOf('scheduled', 'hourly', '')).toEqual({ cadence: 'hourly' });
    expect(cadenceOf('scheduled', 'daily', '')).toEqual({ cadence: 'daily' });
    expect(cadenceOf('real_time', 'cron', '* * * * *')).toEqual({ cadence: 'real_time' });
  });
});
