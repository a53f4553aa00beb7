// The web UI end to end: `npm start` as a real process with the Braze sandbox, Debian's Chromium clicking
// through the seed page's flow by the seed's own words. Every test fails on any console error.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, launchBrowser, newPage, type RunningServer, startServer } from '../support/ui-browser.ts';

const ADMIN = 'cs_admin_ui_e2e_0123456789abcdef';
let server: RunningServer;
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  server = await startServer(ADMIN);
  browser = await launchBrowser();
  page = await newPage(browser, errors);
  page.setDefaultTimeout(15_000);
}, 150_000);

afterEach(() => {
  const seen = errors.splice(0);
  expect(seen, 'console errors').toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Chromium logs every 401 answer as a console error; the sign-in tests expect exactly those. */
function dropRefused401() {
  const kept = errors.filter((e) => !/status of 401/.test(e));
  expect(errors.length - kept.length).toBeGreaterThan(0);
  errors.splice(0, errors.length, ...kept);
}

async function pickOption(label: string, option: RegExp | string) {
  await page.getByRole('combobox', { name: label, exact: true }).click();
  await page.getByRole('option', { name: option }).first().click();
}

async function addTarget(opts: { first: boolean; name?: string; key?: string; alias?: string }) {
  await page.getByRole('button', { name: opts.first ? 'Add Destination' : 'Add Another Key' }).click();
  const dialog = page.getByRole('dialog');
  if (opts.name) await dialog.getByLabel('Name', { exact: true }).fill(opts.name);
  await pickOption('REST endpoint', /Braze sandbox/);
  if (opts.key) await dialog.getByLabel('Data Import Key', { exact: true }).fill(opts.key);
  else await dialog.getByRole('button', { name: 'Create a sandbox key' }).click();
  await expect.poll(() => dialog.getByLabel('Data Import Key', { exact: true }).inputValue()).not.toBe('');
  if (opts.alias) {
    await dialog.getByRole('radio', { name: /^User alias/ }).check();
    await dialog.getByLabel('User alias label').fill(opts.alias);
  }
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
}

async function syncThroughWizard(target: string, cadence: 'One-Time Sync' | 'Real-Time Sync') {
  await page.getByRole('button', { name: 'Sync', exact: true }).click();
  await page.getByRole('button', { name: 'Braze', exact: true }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: new RegExp(`^${target} —`) }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: cadence }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('table', { name: 'Preview' }).waitFor();
  const added = page.getByTestId('preview-added');
  await expect.poll(() => added.textContent()).toMatch(/^\d+$/);
  const counts = {
    added: Number(await added.textContent()),
    skipped: Number(await page.getByTestId('preview-skipped').textContent()),
  };
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.waitForURL(/\/syncs\/syn/);
  return counts;
}

async function statusOfSync() {
  return page.locator('h2 + .mantine-Badge-root, h2 ~ span').first().textContent();
}

describe('the web UI, end to end in Chromium', () => {
  let cohortUrl: string;

  it('signs in with a token, creates a project and sets up Braze with two targets, one with User alias', async () => {
    await page.goto(server.url + '/');
    await page.waitForURL(/\/sign-in/);
    await page.getByLabel('Token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByText('the bearer token is not valid').count()).toBe(1);
    dropRefused401(); // the browser logs the refused 401 itself; the page handled it
    await page.getByLabel('Token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/projects$/);
    await page.getByLabel('Project name').fill('Acme');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL(/\/catalog$/);
    await page.getByRole('tab', { name: 'Destinations' }).waitFor();
    await page.getByRole('button', { name: 'Braze' }).click();
    await page.getByText('Data Import Key', { exact: false }).first().waitFor();
    expect(await page.getByText('Partner Integrations').count()).toBeGreaterThan(0);

    await addTarget({ first: true });
    await addTarget({ first: false, name: 'EU aliases', alias: 'crm_id' });
    await addTarget({ first: false, name: 'Stale key', key: 'revoked-key-0000' });
    const table = page.getByRole('table', { name: 'Targets' });
    await expect.poll(() => table.getByRole('row').count()).toBe(4);
    const alias = table.getByRole('row', { name: /EU aliases/ });
    expect(await alias.textContent()).toContain('User alias');
    expect(await alias.textContent()).toContain('crm_id');
    // Keys never come back: only their last four characters.
    expect(await page.content()).not.toContain('revoked-key-0000');
    expect(await table.getByRole('row', { name: /Stale key/ }).textContent()).toContain('····0000');
  });

  it('uploads a CSV cohort with a preview and syncs it one-time and real-time through the wizard', async () => {
    await page.getByRole('link', { name: 'Cohorts' }).click();
    await page.getByRole('link', { name: 'New cohort from CSV' }).click();
    await page.getByLabel('Cohort name').fill('Buyers');
    await page.locator('input[type=file]').setInputFiles({
      name: 'buyers.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('user_id,device_id,crm_id\nu1,d1,c-1\nu2,,c-2\n,d-anon,\n'),
    });
    const preview = page.getByRole('table', { name: 'CSV preview' });
    await preview.waitFor();
    expect(await preview.getByRole('row').count()).toBe(4);
    expect(await page.getByText('with user_id').textContent()).toContain('2');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/cohorts\/coh/);
    cohortUrl = page.url();
    await page.getByText('3 members').waitFor();

    const oneTime = await syncThroughWizard('Default', 'One-Time Sync');
    expect(oneTime).toEqual({ added: 2, skipped: 1 });
    await expect.poll(statusOfSync, { timeout: 30_000 }).toBe('Healthy');
    // The sync's brazeFilter, as the API words it, shown exactly.
    const filter = await page.getByTestId('braze-filter').textContent();
    expect(filter).toMatch(/^Partner filter "cohort-sync Cohorts" includes "\[cohort-sync\] Buyers: coh_\w+"$/);
    await page.getByRole('tab', { name: 'Runs' }).click();
    const runs = page.getByRole('table', { name: 'Runs' });
    await expect.poll(() => runs.getByText('Succeeded').count()).toBe(1);

    // The sandbox's view: Braze's filter, and which members matched a profile.
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByRole('link', { name: "See the sandbox's view of this cohort" }).click();
    await page.getByTestId('sandbox-filter').waitFor();
    expect(await page.getByTestId('sandbox-filter').textContent()).toBe(filter);
    const members = page.getByRole('table', { name: 'Members and Braze profiles' });
    await expect.poll(() => members.getByText('matched', { exact: true }).count()).toBe(2);

    await page.goto(cohortUrl);
    const realTime = await syncThroughWizard('EU aliases', 'Real-Time Sync');
    expect(realTime).toEqual({ added: 2, skipped: 1 });
    await expect.poll(statusOfSync, { timeout: 30_000 }).toBe('Healthy');
    await page.getByRole('link', { name: 'Syncs', exact: true }).first().click();
    const list = page.getByRole('table', { name: 'Syncs' });
    await expect.poll(() => list.getByText('Healthy').count()).toBe(2);
    expect(await list.textContent()).toContain('Real-Time');
    // Filters live in the URL.
    await pickOption('Cadence', 'Real-Time');
    await page.waitForURL(/cadence=real_time/);
    await expect.poll(() => list.getByRole('row').count()).toBe(2);
  });

  it('opens a failed run (a rejected key) and reads its fix', async () => {
    await page.goto(cohortUrl);
    await syncThroughWizard('Stale key', 'One-Time Sync');
    await expect.poll(statusOfSync, { timeout: 30_000 }).toBe('Failing');
    await page.getByRole('link', { name: 'Open the run' }).click();
    await page.waitForURL(/\/runs\/run/);
    const banner = page.getByRole('alert').filter({ hasText: 'Braze rejected' });
    await expect.poll(() => banner.textContent()).toContain('Invalid client secret');
    expect(await banner.textContent()).toContain(
      'Braze rejected the Data Import Key of target Stale key: regenerate it in Braze → Partner Integrations',
    );
    expect(await page.content()).not.toContain('revoked-key-0000');
    await page.getByRole('tab', { name: 'Requests' }).click();
    await page.getByRole('button', { name: 'Show JSON' }).first().click();
    await page.getByRole('dialog', { name: 'Request and response' }).waitFor();
    expect(await page.getByRole('dialog').textContent()).not.toContain('revoked-key-0000');
    await page.keyboard.press('Escape');
  });

  it('explains a user, then pauses and deletes a sync confirmed by name', async () => {
    await page.getByRole('link', { name: 'Explain a user' }).click();
    await page.getByRole('textbox', { name: 'User ID' }).fill('u1');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.getByText('member', { exact: true }).first().waitFor();
    expect(await page.getByText('Buyers').count()).toBeGreaterThan(0);
    expect(await page.getByText('in Braze', { exact: true }).count()).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Syncs', exact: true }).first().click();
    await page.getByRole('link', { name: 'Buyers → EU aliases' }).click();
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(statusOfSync).toBe('Paused');
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Also remove from Braze').check();
    const confirm = dialog.getByRole('button', { name: 'Delete sync' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Name to confirm').fill('Buyers');
    await confirm.click();
    await page.waitForURL(/\/syncs$/);
    const list = page.getByRole('table', { name: 'Syncs' });
    // Removing its members first, the sync goes once that run succeeds.
    await expect.poll(() => list.getByRole('row').count(), { timeout: 30_000 }).toBe(3);
  });

  it('builds a behavioral cohort from rules with a live estimate and reads it back in plain English', async () => {
    const projectId = /\/p\/([^/]+)\//.exec(page.url())![1]!;
    const { ingestKey } = await apiCall(server, 'GET', `/projects/${projectId}`);
    const now = Date.now();
    const sent = await fetch(`${server.url}/2/httpapi`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        api_key: ingestKey,
        // Amplitude drops ids shorter than 5 characters unless told otherwise; the CSV's ids are short.
        options: { min_id_length: 1 },
        events: [
          { user_id: 'u1', event_type: 'Purchase', time: now - 60_000, event_properties: { plan: 'pro' } },
          { user_id: 'u2', event_type: 'Purchase', time: now - 60_000, event_properties: { plan: 'free' } },
          { user_id: 'u3', event_type: 'Purchase', time: now - 60_000, event_properties: { plan: 'pro' } },
        ],
      }),
    });
    expect(sent.status, await sent.text()).toBe(200);
    await page.getByRole('link', { name: 'Cohorts', exact: true }).click();
    await page.getByRole('link', { name: 'New cohort from rules' }).click();
    await page.getByLabel('Cohort name').fill('Pro buyers');
    await page.getByLabel('Event', { exact: true }).fill('Purchase');
    const estimate = page.getByTestId('estimate');
    await expect.poll(() => estimate.textContent(), { timeout: 15_000 }).toBe('About 3 users match now.');
    await page.getByRole('button', { name: '+ property filter' }).click();
    await page.getByLabel('Event property').fill('plan');
    await page.getByRole('textbox', { name: 'Value' }).fill('pro');
    await expect.poll(() => estimate.textContent(), { timeout: 15_000 }).toBe('About 2 users match now.');
    const english = 'Users who performed Purchase where plan is "pro" in the last 30 days';
    expect(await page.getByTestId('plain-english').textContent()).toBe(english);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(/\/cohorts\/coh/);
    await page.getByLabel('Definition').getByText(english).waitFor();
    await expect.poll(() => page.getByText(/^2 members/).count(), { timeout: 15_000 }).toBe(1);
  });

  it('sends a 401 back to sign in with the reason, and signs out', async () => {
    await page.evaluate(() =>
      (globalThis as any).sessionStorage.setItem('cohort-sync.token', JSON.stringify('revoked-token')),
    );
    await page.reload();
    await page.waitForURL(/\/sign-in/);
    await page.getByText('Signed out: the bearer token is not valid').waitFor();
    dropRefused401(); // the refused request is logged by the browser; the page handled it
    await page.getByLabel('Token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('cohort-sync.token'))).toBeNull();
  });
});
