// GET /readyz (docs/api.md): 200 while the store and the queue answer, 503 naming the one that does not; no auth.
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type Api, startApi } from './api-support.ts';

describe.each(ENGINES)('GET /readyz on $name', (engine) => {
  let api: Api | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('is ready without a token while store and queue answer', async () => {
    api = await startApi(engine);
    const res = await api.call('GET', '/readyz', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { store: 'ok', queue: 'ok' } });
  });

  it('answers 503 naming the queue once it stopped, and the store once it is closed', async () => {
    api = await startApi(engine);
    await api.h.queue.stop();
    const queueDown = await api.call('GET', '/readyz', { token: null });
    expect(queueDown.statusCode).toBe(503);
    const body = queueDown.json() as { status: string; checks: { store: string; queue: string } };
    expect(body.status).toBe('not_ready');
    expect(body.checks.store).toBe('ok');
    expect(body.checks.queue).toMatch(/^failed: .*stopped/);

    await api.h.store.close();
    const storeDown = await api.call('GET', '/readyz', { token: null });
    expect(storeDown.statusCode).toBe(503);
    expect((storeDown.json() as { checks: { store: string } }).checks.store).toMatch(/^failed: /);
    // /healthz stays a liveness check: the process is alive, whatever its dependencies say.
    expect((await api.call('GET', '/healthz', { token: null })).statusCode).toBe(200);
  });
});
