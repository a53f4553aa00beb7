// SQLite's batch statements of ingestion as compiled queries built by hand. The rows are bound one value per
// placeholder in a VALUES list padded with NULL rows to a power of two (as dialect.ts's rowSource does), but
// the statement text of each size is built once and the values go to SQLite as one flat array: through
// Kysely's `sql` template every value was a node to create, freeze and visit, and the text was rebuilt (and
// hashed by the statement cache) for every request — about a fifth of the main thread's CPU per ingested
// event, more than SQLite's own insert (docs/benchmarks.md "Ingestion").
import { CompiledQuery } from 'kysely';

/** Rows a batch of `n` is padded to: the next power of two, so a handful of statement texts serve every size. */
export function paddedRowCount(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/** A row value as SQLite binds it: objects as their JSON text. */
export const boundValue = (v: unknown): unknown => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v);

/** The statement for `rows` (each `width` values; objects as JSON text), after the `head` parameters. */
export type BoundBatch = (head: readonly unknown[], rows: readonly (readonly unknown[])[]) => CompiledQuery;

/**
 * `${select} from (values (?, …), …) j where j.column1 is not null${tail}`: `select` names the columns
 * j.column1 … j.column<width> and may hold `head.length` placeholders of its own; a row's first value is
 * never NULL (the padding rows are skipped by it).
 */
export function boundBatch(select: string, width: number, tail = ''): BoundBatch {
  const texts = new Map<number, string>();
  const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  const textOf = (size: number): string => {
    let text = texts.get(size);
    if (text === undefined) {
      text = `${select} from (values ${Array.from({ length: size }, () => row).join(', ')}) j where j.column1 is not null${tail}`;
      texts.set(size, text);
    }
    return text;
  };
  return (head, rows) => {
    const size = paddedRowCount(rows.length);
    const parameters: unknown[] = new Array(head.length + size * width).fill(null);
    for (let i = 0; i < head.length; i++) parameters[i] = head[i];
    let at = head.length;
    for (const r of rows) {
      for (let c = 0; c < width; c++) {
        parameters[at + c] = boundValue(r[c]) ?? null;
      }
      at += width;
    }
    return CompiledQuery.raw(textOf(size), parameters);
  };
}
