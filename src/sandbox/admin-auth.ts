// Who may use the admin API (docs/sandbox.md, "Admin token"). The admin API can read every workspace and
// wipe them all, so once the sandbox listens beyond loopback it wants a bearer token from every caller —
// loopback ones included, since a proxy or port forward on this host makes remote callers look local.
// On loopback alone it stays open unless a token was configured: tests and the demo run there.
// The sandbox stands alone (it shares no code with the service), hence its own few lines of token handling.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';

export const SANDBOX_ADMIN_TOKEN_FILE = 'sandbox-admin-token';

export interface SandboxAdminToken {
  /** null: the admin API is open (loopback only, no token configured). */
  readonly token: string | null;
  /** Set when the token was generated into a file on this start: callers log where, never the token. */
  readonly generatedInto?: string;
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (!isIPv6(h)) return false; // a host name other than localhost may resolve anywhere
  // The WHATWG parser writes IPv6 canonically: `::1`, and IPv4-mapped 127.x.y.z as `::ffff:7fxx:…`.
  const canonical = new URL(`http://[${h}]/`).hostname.slice(1, -1);
  return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(canonical);
}

/**
 * The configured token, else — when listening beyond loopback — one read from or generated into
 * `<dataDir>/sandbox-admin-token` (mode 0600), or kept in memory only when there is no data directory.
 */
export function resolveSandboxAdminToken(opts: {
  host: string;
  configured?: string | undefined;
  dataDir?: string | undefined;
}): SandboxAdminToken {
  const configured = opts.configured?.trim();
  if (configured) return { token: configured };
  if (isLoopbackHost(opts.host)) return { token: null };
  const generated = `sb_admin_${randomBytes(32).toString('base64url')}`;
  if (opts.dataDir === undefined) return { token: generated };
  const file = join(opts.dataDir, SANDBOX_ADMIN_TOKEN_FILE);
  const existing = readToken(file);
  if (existing) return { token: existing };
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${generated}\n`, { mode: 0o600, flag: 'wx' }); // wx: never overwrite a token in use
  } catch (error) {
    const winner = (error as NodeJS.ErrnoException).code === 'EEXIST' ? readToken(file) : undefined;
    if (winner) return { token: winner };
    throw error;
  }
  return { token: generated, generatedInto: file };
}

/** True when no token is needed or the request carries `Authorization: Bearer <token>`. */
export function adminAuthorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  // Digests first: equal lengths for timingSafeEqual, and no hint of how much of a guess was right.
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

/** A secret as listings show it: `…` and the last 4 characters (nothing of a short one). */
export function keyHint(key: string): string {
  return key.length < 8 ? '…' : `…${key.slice(-4)}`;
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
