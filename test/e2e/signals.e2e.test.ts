// `npm start` stops cleanly on SIGTERM and SIGINT (issue 12 item 13), as a real process tree: the signal
// goes to npm alone — what a process manager or a terminal's Ctrl-C on npm does — and afterwards no
// process of the tree is left running and the port is free.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

function listening(proc: ChildProcess): Promise<URL> {
  return new Promise((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const url = /cohort-sync listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolveUrl(new URL(url));
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
  });
}

/** Processes whose environment names this data directory: every process of the tree has it. */
function processesWith(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(`DATA_DIR=${dir}`)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

const refused = (url: URL) =>
  new Promise<boolean>((r) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.on('connect', () => {
      socket.destroy();
      r(false);
    });
    socket.on('error', () => r(true));
  });

describe.each(['SIGTERM', 'SIGINT'] as const)('npm start and %s', (signal) => {
  it('stops the whole tree and frees the port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-signal-'));
    try {
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: dir,
        PORT: '0',
        BRAZE_SANDBOX_PORT: '0',
        COHORT_SYNC_ADMIN_TOKEN: 'cs_admin_signals_0123456789',
        LOG_LEVEL: 'warn',
      };
      const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const url = await listening(npm);
      expect(processesWith(dir).length).toBeGreaterThan(0);
      const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
      npm.kill(signal); // npm only, not its process group
      await exited;
      // The server went down with npm: nothing of the tree is left, nothing listens.
      for (let i = 0; i < 100 && processesWith(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(processesWith(dir)).toEqual([]);
      expect(await refused(url)).toBe(true);
    } finally {
      for (const pid of processesWith(dir)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
