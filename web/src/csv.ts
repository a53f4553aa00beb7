// A first look at a CSV before it is uploaded: header, a few rows, counts and the lines that name no user.
// The server's answer (accepted, rejected with line numbers) is the authority; this only previews.

export interface CsvPreview {
  readonly header: string[];
  readonly rows: { line: number; cells: string[] }[];
  readonly total: number;
  readonly withUserId: number;
  readonly withDeviceId: number;
  /** Line numbers (1 = header) of rows with neither user_id nor device_id. */
  readonly noId: number[];
  readonly problem: string | null;
}

/** Splits one CSV line, honouring double quotes ("" inside quotes is a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cell);
      cell = '';
    } else cell += ch;
  }
  out.push(cell);
  return out.map((c) => c.trim());
}

export function previewCsv(text: string, shown = 10): CsvPreview {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length && lines[lines.length - 1]?.trim() === '') lines.pop();
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const ui = header.indexOf('user_id');
  const di = header.indexOf('device_id');
  const empty = { header, rows: [], total: 0, withUserId: 0, withDeviceId: 0, noId: [] };
  if (ui < 0 && di < 0) return { ...empty, problem: 'Line 1: the header needs a user_id or a device_id column' };
  const rows: { line: number; cells: string[] }[] = [];
  let withUserId = 0;
  let withDeviceId = 0;
  const noId: number[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n] ?? '';
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    const u = ui >= 0 ? cells[ui] : '';
    const d = di >= 0 ? cells[di] : '';
    if (u) withUserId++;
    if (d) withDeviceId++;
    if (!u && !d) noId.push(n + 1);
    if (rows.length < shown) rows.push({ line: n + 1, cells });
  }
  return { header, rows, total: countRows(lines), withUserId, withDeviceId, noId, problem: null };
}

function countRows(lines: string[]): number {
  let n = 0;
  for (let i = 1; i < lines.length; i++) if ((lines[i] ?? '').trim() !== '') n++;
  return n;
}
