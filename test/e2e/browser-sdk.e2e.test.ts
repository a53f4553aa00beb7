// Amplitude's browser SDK, unchanged, in a real Chromium: a page served from another origin (its own port)
// loads the SDK's published bundle and sends events to cohort-sync through CORS (preflight and POST).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestBed, startIngestBed } from '../ingest/support.ts';
import { ENGINES } from '../support/engines.ts';

const require = createRequire(import.meta.url);
const SDK_BUNDLE = join(
  dirname(require.resolve('@amplitude/analytics-browser/package.json')),
  'lib/scripts/amplitude-min.js',
);

function page(apiKey: string, serverUrl: string): string {
  return `<!doctype html><html><head><script src="/amplitude.js"></script></head><body><script>
    window.results = (async () => {
      amplitude.init(${JSON.stringify(apiKey)}, undefined, {
        serverUrl: ${JSON.stringify(serverUrl)}, autocapture: false, flushIntervalMillis: 50, logLevel: 0,
      });
      const anonymous = await amplitude.track('Landing Viewed', { campaign: 'spring' }).promise;
      amplitude.setUserId('browser-user-0001');
      const identified = await amplitude.identify(new amplitude.Identify().set('plan', 'pro').add('visits', 1)).promise;
      const bought = await amplitude.track('Purchase', { sku: 'A1', price: 12 }).promise;
      return { deviceId: amplitude.getDeviceId(), codes: [anonymous.code, identified.code, bought.code] };
    })();
  </script></body></html>`;
}

describe.each(ENGINES)('@amplitude/analytics-browser in Chromium on $name', (engine) => {
  let bed: IngestBed;
  let site: Server;
  let siteUrl: string;
  let browser: Browser;
  const preflights: string[] = [];

  beforeAll(async () => {
    bed = await startIngestBed(engine, {
      beforeListen: (app) =>
        app.addHook('onRequest', async (request) => {
          if (request.method === 'OPTIONS') preflights.push(String(request.headers.origin));
        }),
    });
    const bundle = readFileSync(SDK_BUNDLE);
    site = createServer((req, res) => {
      if (req.url === '/amplitude.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(page(bed.apiKey, `${bed.url}/2/httpapi`));
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    // "localhost" and 127.0.0.1 on different ports: two origins as far as the browser is concerned.
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await bed?.close();
  });

  it('sends events from a page on another origin; they land and link the device to the user', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(siteUrl);
    const results = (await tab.evaluate('window.results')) as { deviceId: string; codes: number[] };
    await context.close();
    expect(results.codes).toEqual([200, 200, 200]);
    expect(preflights.length).toBeGreaterThan(0);
    expect(preflights.every((o) => o === siteUrl.replace(/\/$/, ''))).toBe(true);

    const stored = await bed.storedEvents();
    expect(stored.map((e) => e.event_type)).toEqual(['Landing Viewed', '$identify', 'Purchase']);
    expect(stored.every((e) => e.device_id === results.deviceId)).toBe(true);
    const profile = await bed.profileOf({ userId: 'browser-user-0001' });
    expect(profile?.deviceIds).toEqual([results.deviceId]);
    expect(new Set(stored.map((e) => e.profile_id))).toEqual(new Set([profile?.id]));
    expect(profile?.properties).toMatchObject({ plan: 'pro', visits: 1 });
    const purchase = stored.find((e) => e.event_type === 'Purchase');
    expect(JSON.parse(purchase.event_properties)).toEqual({ sku: 'A1', price: 12 });
    expect(JSON.parse(purchase.data)).toMatchObject({
      platform: 'Web',
      library: expect.stringMatching(/amplitude-ts/),
    });
  });
});
