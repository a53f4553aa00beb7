import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { previewCsv } from '../src/csv';
import { TargetModal } from '../src/pages/TargetModal';
import { answerApi, renderAt } from './render';

const SERVER = {
  endpoints: [
    { name: 'US-01', url: 'https://rest.iad-01.braze.com', kind: 'braze' },
    { name: 'Braze sandbox', url: 'http://127.0.0.1:4010', kind: 'sandbox' },
  ],
  sandbox: { url: 'http://127.0.0.1:4010', partner: 'cohort-sync' },
  mail: { delivery: 'log', from: 'x@localhost' },
  cohortNamePrefix: 'cohort-sync',
};

describe('Add Another Key', () => {
  it('puts each problem on its field before asking the server', async () => {
    const calls = answerApi({ 'GET /server': SERVER });
    renderAt('/p/p1', '/p/:projectId', <TargetModal projectId="p1" opened first={false} onClose={() => {}} />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Save' }));
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Give the target a name, e.g. "US Production"')).toBeTruthy();
    expect(screen.getByText('Select the REST endpoint of your Braze instance')).toBeTruthy();
    expect(screen.getByText('Paste the Data Import Key')).toBeTruthy();
    await user.click(screen.getByRole('radio', { name: /^User alias/ }));
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByText('A User alias needs a User alias label')).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
  });

  it('sends name, endpoint, key and the User alias mapping, and names the key by delivery mode', async () => {
    const calls = answerApi({
      'GET /server': SERVER,
      'POST /projects/p1/destinations/braze/targets': (b: unknown) => ({ id: 't1', ...(b as object) }),
      'GET /projects/p1/destinations/braze': { enabled: true, targets: [] },
    });
    renderAt('/p/p1', '/p/:projectId', <TargetModal projectId="p1" opened first={false} onClose={() => {}} />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Name'), 'EU Staging');
    await user.click(screen.getByRole('combobox', { name: 'REST endpoint' }));
    await user.click(await screen.findByText('Braze sandbox — http://127.0.0.1:4010'));
    await user.type(screen.getByLabelText('Data Import Key'), 'dik-1234');
    await user.click(screen.getByRole('radio', { name: /^User alias/ }));
    await user.type(screen.getByLabelText('User alias label'), 'crm_id');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'EU Staging',
      endpoint: 'http://127.0.0.1:4010',
      mapping: { type: 'user_alias', aliasLabel: 'crm_id' },
      dataImportKey: 'dik-1234',
    });
  });

  it('asks for a REST API key and refuses device_id in the custom attribute mode', async () => {
    answerApi({ 'GET /server': SERVER });
    renderAt('/p/p1', '/p/:projectId', <TargetModal projectId="p1" opened first={false} onClose={() => {}} />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('radio', { name: /^Custom attribute/ }));
    expect(screen.getByLabelText('REST API key')).toBeTruthy();
    expect(screen.queryByLabelText('Data Import Key')).toBeNull();
    expect(screen.getByRole('radio', { name: /^device_id/ })).toHaveProperty('disabled', true);
  });
});

describe('CSV preview', () => {
  it('counts ids and names the lines that have none', () => {
    const p = previewCsv('user_id,device_id,plan\r\nu1,d1,pro\n,,free\n"u,3",,\n\n,d4,\n');
    expect(p.problem).toBeNull();
    expect(p.total).toBe(4);
    expect(p.withUserId).toBe(2);
    expect(p.withDeviceId).toBe(2);
    expect(p.noId).toEqual([3]);
    expect(p.rows[2]).toEqual({ line: 4, cells: ['u,3', '', ''] });
    expect(previewCsv('email\nx@y').problem).toBe('Line 1: the header needs a user_id or a device_id column');
  });
});
