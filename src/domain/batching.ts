// Packs planned adds and removes into requests of at most `size` items counted across both blocks (the
// delivery mode's batch limit: 1,000 identifiers for cohort import, 75 objects for /users/track; see
// docs/design.md), and never one identifier twice in a request. Adds and removes come from set differences of
// disjoint sets, so an identifier can only repeat if the input repeats it: we drop repeats defensively rather
// than send a request the destination would reject.
export const MAX_IDENTIFIERS_PER_REQUEST = 1000;

export interface PlannedIdentifier {
  readonly key: string;
  readonly profileId: number | null;
}

export interface PlannedBatch {
  readonly add: PlannedIdentifier[];
  readonly remove: PlannedIdentifier[];
}

/**
 * Streams batches from two streams of planned identifiers. Adds fill batches first, then removes,
 * so a run's batches are mostly single-block. Memory: one batch.
 */
export async function* packBatches(
  adds: AsyncIterable<PlannedIdentifier>,
  removes: AsyncIterable<PlannedIdentifier>,
  size = MAX_IDENTIFIERS_PER_REQUEST,
): AsyncGenerator<PlannedBatch> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('batch size must be a whole number ≥ 1');
  let batch: PlannedBatch = { add: [], remove: [] };
  let seen = new Set<string>();
  const push = function* (which: 'add' | 'remove', item: PlannedIdentifier): Generator<PlannedBatch> {
    if (seen.has(item.key)) return;
    seen.add(item.key);
    batch[which].push(item);
    if (batch.add.length + batch.remove.length >= size) {
      yield batch;
      batch = { add: [], remove: [] };
      seen = new Set();
    }
  };
  for await (const item of adds) yield* push('add', item);
  for await (const item of removes) yield* push('remove', item);
  if (batch.add.length + batch.remove.length > 0) yield batch;
}
