// `npm run demo` on a fresh clone: it must run to the end and show the delta and the segment.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

it('npm run demo syncs a cohort, sends only the delta on the second run, shows the segment, then builds a behavioral cohort from SDK events', async () => {
  const out = await new Promise<string>((done, fail) =>
    execFile('npm', ['run', '--silent', 'demo'], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) =>
      error ? fail(new Error(`${error.message}\n${stderr}`)) : done(stdout),
    ),
  );
  expect(out).toMatch(
    /First run: every member\n[\s\S]*status succeeded: 3000 users added \(3000 identifiers sent\), 0 removed, skipped 1/,
  );
  expect(out).toMatch(
    /Second run: only the delta\n[\s\S]*status succeeded: 100 users added \(100 identifiers sent\), 250 removed/,
  );
  expect(out).toMatch(/: 2650 users in segment/);
  // The same cohort through the custom attribute mode, with a REST API key and no partner key.
  expect(out).toMatch(/in Braze build: Custom attribute cohorts includes value power-users\n/);
  expect(out).toMatch(
    /segment "cohorts includes power-users" holds 2650 profiles; 200 unknown users were skipped, none created/,
  );
  // Events sent with the Amplitude Node SDK build a behavioral cohort a real-time sync carries into the sandbox.
  expect(out).toMatch(/Behavioral cohort from events sent with the Amplitude Node SDK/);
  expect(out).toMatch(/ms after sending .*: Braze cohort holds buyer-ana, buyer-ben\n/);
  expect(out).toMatch(/buyer-ben changed plan to free: \d+ ms later Braze cohort holds buyer-ana\n/);
}, 150_000);
