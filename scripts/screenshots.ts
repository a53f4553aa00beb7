// `npm run screenshots`: every page of the web UI at 1280×720, written to docs/screenshots/*.png (shown in
// README and docs/ui.md). Starts `npm start` with the sandbox, sets up a project through the API (targets,
// a CSV cohort, a behavioral cohort with ingested events, syncs that succeed and one that fails), then
// signs in through the UI and visits each page. Fails if any page logs a console error.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { apiCall, launchBrowser, newPage, ROOT, startServer } from '../test/support/ui-browser.ts';

const OUT = join(ROOT, 'docs', 'screenshots');
const ADMIN = 'cs_admin_screenshots_0123456789';

async function waitRun(server: Awaited<ReturnType<typeof startServer>>, p: string, runId: string) {
  for (let i = 0; i < 200; i++) {
    const run = await apiCall(server, 'GET', `/projects/${p}/runs/${runId}`);
    if (['succeeded', 'failed', 'cancelled'].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} did not finish`);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const server = await startServer(ADMIN);
  const browser = await launchBrowser();
  const errors: string[] = [];
  try {
    const project = await apiCall(server, 'POST', '/projects', { name: 'Acme Shop' });
    const p = project.id as string;
    const key = async () => (await apiCall(server, 'POST', '/sandbox/keys')).dataImportKey as string;
    const us = await key();
    await apiCall(server, 'PUT', `/projects/${p}/destinations/braze`, {
      enabled: true,
      endpoint: server.sandbox,
      dataImportKey: us,
      mapping: { type: 'user_id' },
    });
    const eu = await apiCall(server, 'POST', `/projects/${p}/destinations/braze/targets`, {
      name: 'EU Staging',
      endpoint: server.sandbox,
      dataImportKey: await key(),
      mapping: { type: 'user_alias', aliasLabel: 'crm_id', aliasProperty: 'crm_id' },
    });
    const stale = await apiCall(server, 'POST', `/projects/${p}/destinations/braze/targets`, {
      name: 'Old workspace',
      endpoint: server.sandbox,
      dataImportKey: 'revoked-key-0000',
      mapping: { type: 'user_id' },
    });
    const cohort = await apiCall(server, 'POST', `/projects/${p}/cohorts`, { name: 'Power buyers', type: 'static' });
    const rows = ['user_id,device_id,crm_id'];
    for (let i = 1; i <= 40; i++) rows.push(`u${i},d${i},c-${i}`);
    rows.push(',anon-1,', ',anon-2,');
    const res = await fetch(`${server.url}/api/v1/projects/${p}/cohorts/${cohort.id}/members`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' },
      body: `${rows.join('\n')}\n`,
    });
    if (!res.ok) throw new Error(`CSV upload: ${res.status}`);
    for (const t of [
      { targetId: eu.id, cohortId: cohort.id },
      { targetId: stale.id, cohortId: cohort.id },
    ])
      await apiCall(server, 'POST', `/projects/${p}/sandbox/profiles`, t);
    const one = await apiCall(server, 'POST', `/projects/${p}/syncs`, { cohortId: cohort.id, cadence: 'daily' });
    await waitRun(server, p, one.lastRun.id);
    await apiCall(server, 'POST', `/projects/${p}/cohorts/${cohort.id}/members`, {
      add: [{ user_id: 'u41' }, { user_id: 'u42' }],
      remove: [{ user_id: 'u1' }],
    });
    const again = await apiCall(server, 'POST', `/projects/${p}/syncs/${one.id}/runs`);
    await waitRun(server, p, again.id);
    const rt = await apiCall(server, 'POST', `/projects/${p}/syncs`, {
      cohortId: cohort.id,
      targetId: eu.id,
      cadence: 'real_time',
    });
    await waitRun(server, p, rt.lastRun.id);
    const bad = await apiCall(server, 'POST', `/projects/${p}/syncs`, {
      cohortId: cohort.id,
      targetId: stale.id,
      cadence: 'one_time',
    });
    const failed = await waitRun(server, p, bad.lastRun.id);

    const page: Page = await newPage(browser, errors);
    const shots: [string, string, ((pg: Page) => Promise<void>)?][] = [];
    const shoot = async (name: string, path: string, act?: (pg: Page) => Promise<void>) => {
      shots.push([name, path, act]);
      await page.goto(server.url + path);
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(400);
      if (act) await act(page);
      await page.waitForTimeout(300);
      const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
      if (width > 1280) errors.push(`${name}: horizontal scroll (${width}px wide)`);
      await page.screenshot({ path: join(OUT, `${name}.png`) });
    };
    await shoot('01-sign-in', '/sign-in');
    await page.getByLabel('Token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/syncs/);
    await shoot('02-projects', '/projects');
    await shoot('03-catalog', `/p/${p}/catalog`);
    await shoot('04-braze-destination', `/p/${p}/destinations/braze`);
    await shoot('05-add-another-key', `/p/${p}/destinations/braze`, async (pg) => {
      await pg.getByRole('button', { name: 'Add Another Key' }).click();
      await pg.getByRole('radio', { name: /^User alias/ }).check();
      await pg.getByLabel('Name', { exact: true }).fill('US Production');
    });
    await shoot('06-cohorts', `/p/${p}/cohorts`);
    await shoot('07-new-csv-cohort', `/p/${p}/cohorts/new`, async (pg) => {
      await pg.getByLabel('Cohort name').fill('Churn risk');
      await pg.locator('input[type=file]').setInputFiles({
        name: 'churn.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('user_id,device_id,plan\nu1,d1,pro\nu2,,free\n,d9,\n,,\n'),
      });
    });
    await shoot('08-cohort', `/p/${p}/cohorts/${cohort.id}`);
    await shoot('09-sync-wizard-cadence', `/p/${p}/cohorts/${cohort.id}/sync`, async (pg) => {
      await pg.getByRole('button', { name: 'Braze', exact: true }).click();
      await pg.getByRole('button', { name: 'Next' }).click();
      await pg.getByRole('radio', { name: /^Default —/ }).check();
      await pg.getByRole('button', { name: 'Next' }).click();
      await pg.getByRole('radio', { name: 'Scheduled Sync' }).check();
    });
    await shoot('10-sync-wizard-review', `/p/${p}/cohorts/${cohort.id}/sync`, async (pg) => {
      await pg.getByRole('button', { name: 'Braze', exact: true }).click();
      await pg.getByRole('button', { name: 'Next' }).click();
      await pg.getByRole('radio', { name: /^EU Staging —/ }).check();
      await pg.getByRole('button', { name: 'Next' }).click();
      await pg.getByRole('radio', { name: 'One-Time Sync' }).check();
      await pg.getByRole('button', { name: 'Next' }).click();
      await pg.getByRole('table', { name: 'Preview' }).waitFor();
    });
    await shoot('11-rules-builder', `/p/${p}/cohorts/new-rules`, async (pg) => {
      await pg.getByLabel('Cohort name').fill('Engaged pro users');
      await pg.getByLabel('Event', { exact: true }).fill('Purchase');
      await pg.getByRole('button', { name: '+ property filter' }).click();
      await pg.getByLabel('Event property').fill('plan');
      await pg.getByLabel('Value').first().fill('pro');
      await pg.getByTestId('estimate').getByText(/About/).waitFor();
    });
    await shoot('12-syncs', `/p/${p}/syncs`);
    await shoot('13-sync', `/p/${p}/syncs/${one.id}`);
    await shoot('14-run', `/p/${p}/runs/${again.id}`);
    await shoot('15-run-failed', `/p/${p}/runs/${failed.id}`);
    await shoot('16-run-request', `/p/${p}/runs/${again.id}`, async (pg) => {
      await pg.getByRole('tab', { name: 'Requests' }).click();
      await pg.getByRole('button', { name: 'Show JSON' }).first().click();
    });
    await shoot('17-explain', `/p/${p}/explain?user_id=u2`);
    await shoot('18-settings', `/p/${p}/settings`);
    await shoot('19-sandbox', `/p/${p}/syncs/${rt.id}/sandbox`);
    if (errors.length) throw new Error(`console errors:\n${errors.join('\n')}`);
    console.log(`${shots.length} screenshots in docs/screenshots/`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
