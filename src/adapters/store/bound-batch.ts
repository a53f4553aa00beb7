// SQLite's batch statements of ingestion as compiled queries built by hand. The rows are bound one value per
// placeholder in a VALUES list padded with NULL rows to a power of two (as dialect.ts's rowSource does), but
// the statement text of each size is built once and the values go to SQLite as one flat array: through
// Kysely's `sql` template every value was a node to create, freeze and visit, and the text was rebuilt (and
// hashed by the statement cache) for every request — about a fifth of the main thread's CPU per ingested
// event, more than SQLite's own insert (docs/benchmarks.md "Ingestion").
import { CompiledQuery } from 'kysely';

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
    let size = 1;
    while (size < rows.length) size *= 2;
    const parameters: unknown[] = new Array(head.length + size * width).fill(null);
    for (let i = 0; i < head.length; i++) parameters[i] = head[i];
    let at = head.length;
    for (const r of rows) {
      for (let c = 0; c < width; c++) {
        const v = r[c];
        parameters[at + c] = typeof v === 'object' && v !== null ? JSON.stringify(v) : (v ?? null);
      }
      at += width;
    }
    return CompiledQuery.raw(textOf(size), parameters);
  };
}
