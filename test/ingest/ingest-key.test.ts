// The ingest key: shown to editors (not viewers), rotatable through the API; the old key is refused by
// ingestion at once and the new one accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestRoutes } from '../../src/entry/http/routes/ingest.ts';
import { type Api, json, startApi } from '../http/api-support.ts';
import { ENGINES } from '../support/engines.ts';

describe.each(ENGINES.slice(0, 1))('ingest key on $name', (engine) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(engine, {
      // The routes read the ingestion at request time, once startApi has returned.
      context: {
        extraRoutes: [
          ingestRoutes({
            get ingestion() {
              return api.h.ingestion;
            },
          }),
        ],
      },
    });
  });
  afterAll(async () => {
    await api.close();
  });

  it('is shown to editors, hidden from viewers, and rotation swaps the key ingestion accepts', async () => {
    const created = json<{ id: string; ingestKey: string }>(
      await api.call('POST', '/api/v1/projects', { body: { name: 'Keys' } }),
    );
    const p = `/api/v1/projects/${created.id}`;
    const token = async (role: string) =>
      json<{ token: string }>(await api.call('POST', `${p}/tokens`, { body: { role } })).token;
    const editor = await token('editor');
    const viewer = await token('viewer');
    expect(json(await api.call('GET', p, { token: editor })).ingestKey).toBe(created.ingestKey);
    expect(json(await api.call('GET', p, { token: viewer })).ingestKey).toBeUndefined();
    expect((await api.call('POST', `${p}/ingest-key/rotate`, { token: viewer })).statusCode).toBe(403);

    const send = (key: string) =>
      api.call('POST', '/2/httpapi', {
        token: null,
        body: { api_key: key, events: [{ event_type: 'E', user_id: 'key-user-1' }] },
      });
    expect(json(await send(created.ingestKey)).code).toBe(200);
    const rotated = await api.call('POST', `${p}/ingest-key/rotate`, { token: editor });
    expect(rotated.statusCode).toBe(200);
    const fresh = json<{ ingestKey: string }>(rotated).ingestKey;
    expect(fresh).toMatch(/^cs_ingest_/);
    expect(fresh).not.toBe(created.ingestKey);
    expect(json(await api.call('GET', p, { token: editor })).ingestKey).toBe(fresh);
    expect(json(await send(created.ingestKey))).toEqual({ code: 400, error: 'Invalid API key' });
    expect(json(await send(fresh)).code).toBe(200);
  });
});
