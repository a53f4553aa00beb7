// Amplitude's own Node SDK, unchanged, pointed at cohort-sync with `serverUrl`: its events, identify
// operations, revenue and batching land in the store, and it reads our answers as Amplitude's.
import { createInstance, Identify, Revenue } from '@amplitude/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type IngestBed, startIngestBed } from './support.ts';

describe.each(ENGINES)('@amplitude/analytics-node against cohort-sync on $name', (engine) => {
  let bed: IngestBed;
  beforeAll(async () => {
    bed = await startIngestBed(engine);
  });
  afterAll(async () => {
    await bed.close();
  });

  const client = async (opts: { useBatch?: boolean; flushQueueSize?: number } = {}) => {
    const amplitude = createInstance();
    await amplitude.init(bed.apiKey, {
      serverUrl: `${bed.url}${opts.useBatch ? '/batch' : '/2/httpapi'}`,
      flushIntervalMillis: 20,
      flushQueueSize: opts.flushQueueSize ?? 50,
      flushMaxRetries: 5,
      logLevel: 0,
    }).promise;
    return amplitude;
  };

  it('delivers tracked events, $identify operations and revenue, with the SDK seeing success', async () => {
    const amplitude = await client();
    const results = await Promise.all([
      amplitude.track('Page Viewed', { path: '/pricing' }, { device_id: 'node-sdk-device-1' }).promise,
      amplitude.track('Signed Up', { plan: 'free' }, { device_id: 'node-sdk-device-1', user_id: 'node-sdk-user-1' })
        .promise,
      amplitude.identify(new Identify().set('plan', 'pro').add('logins', 2).append('tags', 'beta'), {
        user_id: 'node-sdk-user-1',
      }).promise,
      amplitude.identify(new Identify().setOnce('plan', 'ignored').add('logins', 1), { user_id: 'node-sdk-user-1' })
        .promise,
      amplitude.revenue(new Revenue().setProductId('sku-1').setPrice(9.99).setQuantity(2), {
        user_id: 'node-sdk-user-1',
      }).promise,
    ]);
    await amplitude.flush().promise;
    expect(results.map((r) => [r.code, r.message])).toEqual(
      Array.from({ length: 5 }, () => [200, 'Event tracked successfully']),
    );

    const stored = await bed.storedEvents();
    const types = stored.map((e) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(['Page Viewed', 'Signed Up', '$identify', 'revenue_amount']));
    const profile = await bed.profileOf({ userId: 'node-sdk-user-1' });
    // The anonymous device's first event belongs to the identified profile once the device is linked.
    expect(profile?.deviceIds).toEqual(['node-sdk-device-1']);
    expect(new Set(stored.map((e) => e.profile_id))).toEqual(new Set([profile?.id]));
    expect(profile?.properties).toEqual({ plan: 'pro', logins: 3, tags: ['beta'] });
    const page = stored.find((e) => e.event_type === 'Page Viewed');
    expect(JSON.parse(page.event_properties)).toEqual({ path: '/pricing' });
    const data = JSON.parse(page.data);
    expect(data).toMatchObject({ library: expect.stringMatching(/^amplitude-node/), event_id: expect.any(Number) });
    expect(page.insert_id).toEqual(expect.any(String));
    const revenue = stored.find((e) => e.event_type === 'revenue_amount');
    expect(JSON.parse(revenue.event_properties)).toMatchObject({ $productId: 'sku-1', $price: 9.99, $quantity: 2 });
  });

  it('sends batches through /batch too, and its retries after a partial 400 are deduplicated', async () => {
    const amplitude = await client({ useBatch: true, flushQueueSize: 200 });
    const tracked = Array.from({ length: 120 }, (_, i) =>
      amplitude.track('Batch Event', { i }, { user_id: `node-batch-user-${i % 7}` }),
    );
    // An id the SDK accepts but we refuse (a placeholder): the SDK drops that event and retries the rest.
    const refused = amplitude.track('Batch Event', { i: -1 }, { user_id: 'undefined' });
    // No explicit flush(): the SDK's explicit flush does not retry; its timed flushes do.
    const results = await Promise.all([...tracked.map((t) => t.promise), refused.promise]);
    expect(results.slice(0, 120).every((r) => r.code === 200)).toBe(true);
    expect(results[120]?.code).toBe(400);
    const stored = (await bed.storedEvents()).filter((e) => e.event_type === 'Batch Event');
    expect(stored).toHaveLength(120);
    expect(new Set(stored.map((e) => JSON.parse(e.event_properties).i)).size).toBe(120);
  });
});
