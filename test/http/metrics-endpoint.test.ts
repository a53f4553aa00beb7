// Issue 12, item 17: /metrics of a running API server and of a worker's --port listener comes from
// prom-client — today's series unchanged, plus the process and event-loop ones — each service on its own
// registry, so two services in one process (here: the API server and the worker) count on their own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/entry/config.ts';
import { type RunningService, startService } from '../../src/entry/service.ts';
import { expectServiceSeries } from '../support/metrics-series.ts';

let dir: string;
const services: RunningService[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cs-metrics-'));
  const config = (name: string) =>
    loadConfig({ DATA_DIR: join(dir, name), PORT: '0', BRAZE_SANDBOX: 'off', LOG_LEVEL: 'silent' });
  services.push(await startService(config('api'), { role: 'serve', print: () => {} }));
  services.push(await startService(config('worker'), { role: 'worker', workerPort: 0, print: () => {} }));
});
afterAll(async () => {
  for (const s of services) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

describe('/metrics', () => {
  it('of the API server shows the series it always did, and the process and event-loop ones', async () => {
    expectServiceSeries(await scrape(services[0]!.url!));
  });

  it("of a worker's --port listener shows the same", async () => {
    expectServiceSeries(await scrape(services[1]!.workerUrl!));
  });
});
