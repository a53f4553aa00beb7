// Keeping the sandbox's workspaces across restarts (docs/sandbox.md, "State on disk"): one JSON file,
// rewritten whole a moment after changes and on close. Each write goes to a temporary file that is synced
// and renamed over the old one, so a crash leaves either the previous snapshot or the new one, never half
// of one. Faults, the request log and budgets are not kept: they describe a test in progress, not data.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxRecords, SandboxState } from './state.ts';

export const SNAPSHOT_FILE = 'sandbox-state.json';
const SNAPSHOT_VERSION = 1;
/** Changes come in bursts (a sync sends many calls); one write per burst is enough. */
const DEFAULT_DEBOUNCE_MS = 1_000;

export interface SnapshotPersistence {
  readonly file: string;
  /** Writes now if anything changed since the last write, and stops listening. */
  close(): void;
}

/**
 * Loads `<dataDir>/sandbox-state.json` into `state` (if present) and keeps it up to date. A damaged file
 * stops the start with its name: starting empty would silently throw its workspaces away.
 */
export function persistState(
  state: SandboxState,
  dataDir: string,
  opts: { debounceMs?: number } = {},
): SnapshotPersistence {
  const file = join(dataDir, SNAPSHOT_FILE);
  const loaded = readSnapshot(file);
  if (loaded) state.restore(loaded);

  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let closed = false;
  // A big state takes a while to write (100,000 profiles in a cohort: ~150 ms of CPU); waiting ten times the
  // last write between writes keeps the event loop at least ~90% free for the requests being simulated.
  let delayMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!dirty) return;
    dirty = false;
    const started = performance.now();
    writeSnapshot(file, state.records());
    delayMs = Math.max(opts.debounceMs ?? DEFAULT_DEBOUNCE_MS, 10 * (performance.now() - started));
  };
  state.onChange(() => {
    if (closed) return;
    dirty = true;
    if (timer) return;
    timer = setTimeout(() => {
      try {
        flush();
      } catch (error) {
        // A full disk must not take the sandbox down; the next change or close tries again.
        dirty = true;
        process.stderr.write(`braze sandbox: could not write ${file}: ${(error as Error).message}\n`);
      }
    }, delayMs);
    timer.unref();
  });
  return {
    file,
    close: () => {
      if (closed) return;
      closed = true;
      flush();
    },
  };
}

function readSnapshot(file: string): SandboxRecords | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; move it away to start the sandbox empty`);
  }
  const snapshot = parsed as { version?: unknown } & Partial<SandboxRecords>;
  if (snapshot.version !== SNAPSHOT_VERSION || !Array.isArray(snapshot.workspaces) || !Array.isArray(snapshot.restKeys))
    throw new Error(`${file} is not a sandbox snapshot of version ${SNAPSHOT_VERSION}; move it away to start empty`);
  return { workspaces: snapshot.workspaces, restKeys: snapshot.restKeys };
}

function writeSnapshot(file: string, records: SandboxRecords): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  // Mode 0600: the file holds Data Import Keys and REST API keys.
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: SNAPSHOT_VERSION, ...records }));
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
}
