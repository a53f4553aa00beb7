// Builds the web UI (web/ → web/dist) with Vite. `--if-stale` skips the build when web/dist was built from
// the same sources (a hash of web/ without dist and tests, kept in web/dist/.source-hash): `npm install` runs
// it (postinstall) and `npm start` runs it again (prestart), so a fresh clone serves the UI with no extra
// command and an edited UI is rebuilt on the next start. `--tolerant` (postinstall) never fails the install:
// a failed build is reported and retried, loudly, by the next `npm start`.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const WEB = join(ROOT, 'web');
const DIST = join(WEB, 'dist');
const STAMP = join(DIST, '.source-hash');
const args = new Set(process.argv.slice(2));

function sourceHash() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== DIST && entry.name !== 'test' && entry.name !== 'node_modules') walk(full);
      } else {
        hash.update(relative(WEB, full)).update('\0').update(readFileSync(full)).update('\0');
      }
    }
  };
  walk(WEB);
  return hash.digest('hex');
}

async function main() {
  const wanted = sourceHash();
  if (args.has('--if-stale') && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === wanted) return;
  let build;
  try {
    ({ build } = await import('vite'));
  } catch {
    console.warn('web UI not built: vite is not installed (install the dev dependencies: npm install)');
    process.exitCode = args.has('--tolerant') ? 0 : 1;
    return;
  }
  console.log('building the web UI into web/dist …');
  await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });
  writeFileSync(STAMP, `${wanted}\n`);
  console.log('web UI built');
}

main().catch((error) => {
  console.error(`web UI build failed: ${error?.stack ?? error}`);
  process.exitCode = args.has('--tolerant') ? 0 : 1;
});
