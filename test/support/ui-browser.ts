// `npm start` as a real process on free ports (with the embedded Braze sandbox) and Debian's Chromium driven
// by playwright-core: shared by the web UI's end-to-end tests and `npm run screenshots`.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface RunningServer {
  readonly url: string;
  readonly sandbox: string;
  readonly adminToken: string;
  stop(): Promise<void>;
}

export async function startServer(adminToken: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-ui-'));
  const child: ChildProcess = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dir,
      PORT: '0',
      BRAZE_SANDBOX_PORT: '0',
      COHORT_SYNC_ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  const urls = await new Promise<{ url: string; sandbox: string }>((ok, fail) => {
    let out = '';
    // The first start after a change to web/ builds the UI (prestart): allow for it.
    const timer = setTimeout(() => fail(new Error(`npm start did not come up:\n${out}`)), 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const url = /cohort-sync listening on (http:\/\/\S+)/.exec(out)?.[1];
      const sandbox = /Braze sandbox on (http:\/\/\S+)/.exec(out)?.[1];
      if (url && sandbox) {
        clearTimeout(timer);
        ok({ url, sandbox });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => fail(new Error(`npm start exited with ${code}:\n${out}`)));
  });
  return {
    ...urls,
    adminToken,
    async stop() {
      if (child.pid && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** A 1280×720 page that records console errors and uncaught exceptions into `errors`. */
export async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  return page;
}

/** JSON over the API with the admin token, for set-up steps the test is not about. */
export async function apiCall<T = any>(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.adminToken}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}
