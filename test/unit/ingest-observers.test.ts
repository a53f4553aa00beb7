import { describe, expect, it } from 'vitest';
import { IngestObservers } from '../../src/app/ingest-observers.ts';
import type { Logger } from '../../src/ports/logger.ts';

const logged: object[] = [];
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (obj) => logged.push(obj),
  child: () => logger,
};

describe('ingestion observers', () => {
  it('tells every listener in order, survives a failing one, and forgets a removed one', async () => {
    const observers = new IngestObservers(logger);
    const heard: string[] = [];
    const removeA = observers.onIngested((e) => {
      heard.push(`a:${e.profileIds.join(',')}`);
    });
    observers.onIngested(() => {
      throw new Error('boom');
    });
    observers.onIngested(async (e) => {
      heard.push(`c:${e.eventTypes.join(',')}`);
    });
    const batch = {
      projectId: 'p',
      profileIds: [1, 2],
      eventTypes: ['Buy'],
      propertiesChanged: false,
      events: [{ profileId: 1, eventType: 'Buy', eventProperties: {} }],
      propertyProfiles: [],
      identityProfiles: [],
    };
    await observers.notify(batch);
    expect(heard).toEqual(['a:1,2', 'c:Buy']);
    expect(logged).toHaveLength(1);
    removeA();
    await observers.notify(batch);
    expect(heard).toEqual(['a:1,2', 'c:Buy', 'c:Buy']);
  });
});
