// The streaming CSV reader of member uploads (src/domain/csv.ts): RFC 4180 records whatever the chunking,
// checked against csv-parse (the parser it replaced) on generated files, and its faults reported by line.
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvReader, CsvRecordTooLong } from '../../src/domain/csv.ts';

type Out = { records: { line: number; fields: string[] }[]; faults: { line: number; reason: string }[] };

function read(chunks: readonly string[], max = 1024 ** 2): Out {
  const out: Out = { records: [], faults: [] };
  const reader = new CsvReader(
    {
      record: (fields, line) => out.records.push({ line, fields: [...fields] }),
      malformed: (line, reason) => out.faults.push({ line, reason }),
    },
    max,
  );
  for (const c of chunks) reader.write(c);
  reader.end();
  return out;
}

/** Cuts `text` at the given points (sorted, deduplicated), so records and quotes straddle chunks. */
function cut(text: string, points: readonly number[]): string[] {
  const at = [...new Set(points.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const p of at) {
    chunks.push(text.slice(from, p));
    from = p;
  }
  chunks.push(text.slice(from));
  return chunks;
}

const fieldText = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '😀'), maxLength: 6 });
/** A field as written: bare when it can be, else quoted with doubled quotes (some bare ones quoted anyway). */
const written = fc.tuple(fieldText, fc.boolean()).map(([v, q]) => {
  const needs = /[",\r\n]/.test(v);
  return needs || q ? `"${v.replaceAll('"', '""')}"` : v;
});
const csvFile = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 8 }), fc.boolean())
  .chain(([cols, rows, crlf]) =>
    fc.array(fc.array(written, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }).map((rs) =>
      rs
        // A record of one empty field is an empty line, which both parsers skip: keep such files out.
        .filter((r) => r.join(',') !== '')
        .map((r) => r.join(','))
        .join(crlf ? '\r\n' : '\n'),
    ),
  );

describe('CsvReader', () => {
  it('reads the records csv-parse reads, however the text is cut into chunks', () => {
    fc.assert(
      fc.property(csvFile, fc.array(fc.nat(), { maxLength: 6 }), (text, points) => {
        const expected = parse(text, { relax_column_count: true, skip_empty_lines: true }) as string[][];
        const out = read(cut(text, points));
        expect(out.faults).toEqual([]);
        expect(out.records.map((r) => r.fields)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('numbers records by the line they start on, skips empty lines, drops a BOM, takes CRLF', () => {
    const out = read(['\ufeffuser_id,plan\r\n', 'u1,"multi\nline"\n\nu2,', 'x\r\n"u""3",\n']);
    expect(out.records).toEqual([
      { line: 1, fields: ['user_id', 'plan'] },
      { line: 2, fields: ['u1', 'multi\nline'] },
      { line: 5, fields: ['u2', 'x'] },
      { line: 6, fields: ['u"3', ''] },
    ]);
  });

  it('reports a malformed record by its line and reads on from the next line', () => {
    const out = read(['user_id\nok1\nab"c\n"x"y,z\nok2\n"never closed\nmore']);
    expect(out.records.map((r) => [r.line, r.fields[0]])).toEqual([
      [1, 'user_id'],
      [2, 'ok1'],
      [5, 'ok2'],
    ]);
    expect(out.faults.map((f) => f.line)).toEqual([3, 4, 6]);
    expect(out.faults[0]?.reason).toMatch(/quote inside an unquoted field/);
    expect(out.faults[1]?.reason).toMatch(/after the closing quote/);
    expect(out.faults[2]?.reason).toMatch(/not closed/);
  });

  it('ends with CsvRecordTooLong on a record past the limit, quoted or not, naming its line', () => {
    expect(() => read(['a\nb\n', 'x'.repeat(50), '\n'], 20)).toThrow(CsvRecordTooLong);
    try {
      read(['a\nb\n"', 'y'.repeat(30)], 20);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CsvRecordTooLong);
      expect((e as CsvRecordTooLong).line).toBe(3);
    }
  });
});
