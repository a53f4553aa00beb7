import { describe, expect, it } from 'vitest';
import { RunEventBus } from '../../src/app/run-events.ts';
import type { Run } from '../../src/domain/model.ts';
import type { Logger } from '../../src/ports/logger.ts';

const warned: object[] = [];
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (obj) => warned.push(obj),
  error: () => {},
  child: () => logger,
};

describe('run events', () => {
  it('tells observers subscribed after composition in order, survives a failing one, and forgets a removed one', async () => {
    const bus = new RunEventBus(logger);
    const heard: string[] = [];
    const removeFirst = bus.subscribe({ runFinished: ({ run }) => void heard.push(`first:${run.id}`) });
    bus.subscribe({
      runFinished: () => {
        throw new Error('boom');
      },
    });
    bus.subscribe({ runFinished: async ({ run }) => void heard.push(`last:${run.id}`) });
    const run = { id: 'run_1' } as Run;
    await bus.publish({ run, sync: undefined });
    expect(heard).toEqual(['first:run_1', 'last:run_1']);
    expect(warned).toEqual([expect.objectContaining({ runId: 'run_1' })]);
    removeFirst();
    await bus.publish({ run, sync: undefined });
    expect(heard).toEqual(['first:run_1', 'last:run_1', 'last:run_1']);
  });
});
