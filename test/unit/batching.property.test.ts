// Property tests of packBatches (docs/design.md limits): ≤ the mode's batch size per request, never one twice in a
// request, and nothing planned is lost.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_IDENTIFIERS_PER_REQUEST,
  type PlannedBatch,
  type PlannedIdentifier,
  packBatches,
} from '../../src/domain/batching.ts';

async function* stream<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    // Yield to the event loop now and then, as a store-backed page stream does.
    if (Math.random() < 0.05) await new Promise((r) => setImmediate(r));
    yield item;
  }
}

async function pack(
  adds: readonly PlannedIdentifier[],
  removes: readonly PlannedIdentifier[],
  size?: number,
): Promise<PlannedBatch[]> {
  const out: PlannedBatch[] = [];
  for await (const b of packBatches(stream(adds), stream(removes), size))
    out.push({ add: [...b.add], remove: [...b.remove] });
  return out;
}

const planned = (key: string, i: number): PlannedIdentifier => ({ key, profileId: i % 3 === 0 ? null : i });

/** Unique keys split into disjoint adds and removes, as the planner's set differences produce them. */
const disjointPlan = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 400 })
  .chain((keys) =>
    fc.tuple(fc.constant(keys), fc.array(fc.boolean(), { minLength: keys.length, maxLength: keys.length })),
  )
  .map(([keys, isAdd]) => ({
    adds: keys.filter((_, i) => isAdd[i]).map(planned),
    removes: keys.filter((_, i) => !isAdd[i]).map(planned),
  }));

const batchSize = fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: MAX_IDENTIFIERS_PER_REQUEST }));

function checkLimits(batches: readonly PlannedBatch[], size: number): void {
  for (const b of batches) {
    const n = b.add.length + b.remove.length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(size);
    expect(n).toBeLessThanOrEqual(MAX_IDENTIFIERS_PER_REQUEST);
    const keys = [...b.add, ...b.remove].map((i) => i.key);
    expect(new Set(keys).size).toBe(keys.length);
  }
}

describe('packBatches', () => {
  it('packs disjoint adds and removes losslessly, in order, into full batches of at most `size`', async () => {
    await fc.assert(
      fc.asyncProperty(disjointPlan, batchSize, async ({ adds, removes }, size) => {
        const batches = await pack(adds, removes, size);
        checkLimits(batches, size);
        expect(batches.flatMap((b) => b.add)).toEqual(adds);
        expect(batches.flatMap((b) => b.remove)).toEqual(removes);
        const total = adds.length + removes.length;
        expect(batches).toHaveLength(Math.ceil(total / size));
        batches.slice(0, -1).forEach((b) => expect(b.add.length + b.remove.length).toBe(size));
      }),
      { numRuns: 300 },
    );
  });

  it('never repeats an identifier within a batch and loses no identifier, even from repeating input', async () => {
    const key = fc.constantFrom('e:a', 'e:b', 'd:a', 'd:b', 'a:l\u001fa', 'e:c', 'd:c', 'e:d');
    await fc.assert(
      fc.asyncProperty(
        fc.array(key, { maxLength: 60 }),
        fc.array(key, { maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        async (addKeys, removeKeys, size) => {
          const batches = await pack(addKeys.map(planned), removeKeys.map(planned), size);
          checkLimits(batches, size);
          const sentAdds = new Set(batches.flatMap((b) => b.add.map((i) => i.key)));
          const sentAny = new Set(batches.flatMap((b) => [...b.add, ...b.remove].map((i) => i.key)));
          for (const k of addKeys) expect(sentAdds.has(k)).toBe(true);
          for (const k of removeKeys) expect(sentAny.has(k)).toBe(true);
          // Nothing is invented, and removes only carry keys asked to be removed.
          for (const b of batches) {
            for (const i of b.add) expect(addKeys).toContain(i.key);
            for (const i of b.remove) expect(removeKeys).toContain(i.key);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits 2,500 identifiers into 1,000 + 1,000 + 500 by default', async () => {
    const adds = Array.from({ length: 2_100 }, (_, i) => planned(`e:user-${i}`, i));
    const removes = Array.from({ length: 400 }, (_, i) => planned(`d:device-${i}`, i));
    const batches = await pack(adds, removes);
    expect(batches.map((b) => b.add.length + b.remove.length)).toEqual([1_000, 1_000, 500]);
    expect(batches[2]).toMatchObject({ add: expect.any(Array), remove: expect.any(Array) });
    expect(batches[2]!.add).toHaveLength(100);
    expect(batches[2]!.remove).toHaveLength(400);
  });

  it('yields nothing for an empty plan and refuses sizes that are not whole numbers ≥ 1', async () => {
    expect(await pack([], [])).toEqual([]);
    await expect(pack([planned('e:x', 1)], [], 0)).rejects.toThrow(RangeError);
    await expect(pack([planned('e:x', 1)], [], 1.5)).rejects.toThrow(RangeError);
  });
});
