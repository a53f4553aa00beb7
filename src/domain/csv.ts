// A streaming CSV reader (RFC 4180: comma-separated, `"`-quoted fields, `""` for a quote inside one, CRLF or
// LF line ends), written for member uploads of millions of rows: a line without a quote is cut with indexOf
// and never looked at character by character; only records holding a quote take the full state machine.
// Empty lines are skipped, nothing is trimmed, a leading byte-order mark is dropped. A malformed record is
// reported by the line it starts on and reading resumes at the next line.

/** Receives records as they are read. `fields` may be reused once `record` returns: copy what you keep. */
export interface CsvSink {
  record(fields: readonly string[], line: number): void;
  malformed(line: number, reason: string): void;
}

/** A record longer than the limit: it cannot be skipped without buffering on to find its end. */
export class CsvRecordTooLong extends Error {
  constructor(
    readonly line: number,
    readonly limit: number,
  ) {
    super(`line ${line}: a record is longer than ${limit} characters`);
  }
}

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;

/** Where a quoted record ended, or that it needs more text. */
type Quoted = { next: number; lines: number } | null;

export class CsvReader {
  private rest = '';
  private line = 1;
  private started = false;
  private readonly one: string[] = [''];

  constructor(
    private readonly sink: CsvSink,
    /** The longest record, in UTF-16 code units (`CSV_MAX_RECORD_BYTES`). */
    private readonly maxRecordChars: number,
  ) {}

  /** Reads `text`, which may end in the middle of a record (it is kept for the next call). */
  write(text: string): void {
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.read(this.rest.length > 0 ? this.rest + text : text, false);
  }

  /** The input has ended: reads what is left. */
  end(): void {
    this.read(this.rest, true);
    this.rest = '';
  }

  private read(buf: string, final: boolean): void {
    const max = this.maxRecordChars;
    const len = buf.length;
    let pos = 0;
    // Positions of the next quote and comma at or after pos (-1: none left), searched again only once passed.
    let quoteAt = -2;
    let commaAt = -2;
    while (pos < len) {
      let nl = buf.indexOf('\n', pos);
      if (nl === -1) {
        if (!final) break;
        nl = len;
      }
      if (quoteAt !== -1 && quoteAt < pos) quoteAt = buf.indexOf('"', pos);
      if (quoteAt === -1 || quoteAt > nl) {
        let end = nl;
        if (end > pos && buf.charCodeAt(end - 1) === CR) end--;
        if (end - pos > max) throw new CsvRecordTooLong(this.line, max);
        if (end > pos) {
          if (commaAt !== -1 && commaAt < pos) commaAt = buf.indexOf(',', pos);
          if (commaAt === -1 || commaAt > end) {
            this.one[0] = buf.slice(pos, end);
            this.sink.record(this.one, this.line);
          } else this.sink.record(buf.slice(pos, end).split(','), this.line);
        }
        this.line += 1;
        pos = nl + 1;
        continue;
      }
      const quoted = this.quoted(buf, pos, final);
      if (quoted === null) break;
      this.line += quoted.lines;
      pos = quoted.next;
    }
    if (pos < len) {
      // An unfinished record: kept whole until its end arrives, within the limit.
      if (len - pos > max) throw new CsvRecordTooLong(this.line, max);
      this.rest = buf.slice(pos);
    } else this.rest = '';
  }

  /** One record that holds a quote somewhere, character by character; null when it needs more text. */
  private quoted(buf: string, start: number, final: boolean): Quoted {
    const len = buf.length;
    const max = this.maxRecordChars;
    const fields: string[] = [];
    let field = '';
    let lines = 0;
    let i = start;
    let fieldStart = i;
    for (;;) {
      if (i - start > max) throw new CsvRecordTooLong(this.line, max);
      if (i >= len) {
        if (!final) return null;
        fields.push(field + buf.slice(fieldStart, i));
        this.sink.record(fields, this.line);
        return { next: i, lines: lines + 1 };
      }
      const c = buf.charCodeAt(i);
      if (c === QUOTE) {
        if (i !== fieldStart || field !== '')
          return this.skip(
            buf,
            i,
            lines,
            final,
            `a quote inside an unquoted field (field ${fields.length + 1}): quote the whole field and double the quote`,
          );
        // A quoted field: up to the quote that is not doubled.
        let j = i + 1;
        let value = '';
        let from = j;
        for (;;) {
          if (j - start > max) throw new CsvRecordTooLong(this.line, max);
          const q = buf.indexOf('"', j);
          if (q === -1) {
            if (!final) return null;
            this.sink.malformed(
              this.line,
              `a quoted field (field ${fields.length + 1}) is not closed before the end of the file`,
            );
            return { next: len, lines: lines + 1 + countLines(buf, i, len) };
          }
          if (q + 1 >= len && !final) return null;
          if (buf.charCodeAt(q + 1) === QUOTE) {
            value += buf.slice(from, q + 1);
            j = q + 2;
            from = j;
            continue;
          }
          value += buf.slice(from, q);
          lines += countLines(buf, i, q);
          i = q + 1;
          break;
        }
        if (i - start > max) throw new CsvRecordTooLong(this.line, max);
        const after = i < len ? buf.charCodeAt(i) : -1;
        if (after === CR && i + 1 >= len && !final) return null;
        const ends = after === -1 || after === LF || (after === CR && (i + 1 >= len || buf.charCodeAt(i + 1) === LF));
        if (after !== COMMA && !ends)
          return this.skip(buf, i, lines, final, `text after the closing quote of field ${fields.length + 1}`);
        field = value;
        fieldStart = i;
        continue;
      }
      if (c === COMMA) {
        fields.push(field + buf.slice(fieldStart, i));
        field = '';
        i += 1;
        fieldStart = i;
        continue;
      }
      if (c === LF) {
        let end = i;
        if (end > fieldStart && buf.charCodeAt(end - 1) === CR) end--;
        fields.push(field + buf.slice(fieldStart, end));
        this.sink.record(fields, this.line);
        return { next: i + 1, lines: lines + 1 };
      }
      i += 1;
    }
  }

  /** Reports the record as malformed and resumes after the end of the line the fault is on. */
  private skip(buf: string, at: number, lines: number, final: boolean, reason: string): Quoted {
    const nl = buf.indexOf('\n', at);
    if (nl === -1 && !final) return null;
    this.sink.malformed(this.line, reason);
    return { next: nl === -1 ? buf.length : nl + 1, lines: lines + 1 };
  }
}

function countLines(buf: string, from: number, to: number): number {
  let n = 0;
  for (let k = buf.indexOf('\n', from); k !== -1 && k < to; k = buf.indexOf('\n', k + 1)) n++;
  return n;
}
