import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveAdminToken } from '../../src/adapters/crypto/admin-token.ts';
import {
  constantTimeEqual,
  createSecretBox,
  generateToken,
  hashToken,
  hint,
  loadOrCreateSecretKey,
  readOrCreateSecretFile,
  SecretDecryptError,
} from '../../src/adapters/crypto/secrets.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-secrets-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (file: string) => statSync(file).mode & 0o777;

/** Flips one bit of one base64 field of a sealed secret. */
function flip(sealed: string, field: 1 | 2 | 3): string {
  const parts = sealed.split(':');
  const bytes = Buffer.from(parts[field]!, 'base64');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[field] = bytes.toString('base64');
  return parts.join(':');
}

describe('createSecretBox', () => {
  const box = createSecretBox(randomBytes(32));

  it('round-trips, including empty and non-ASCII text', () => {
    for (const plain of ['braze-data-import-key-1234', '', 'ключ 🔑 é']) {
      expect(box.decrypt(box.encrypt(plain))).toBe(plain);
    }
  });

  it('writes v1:<iv>:<tag>:<ciphertext> with a fresh 12-byte IV each time, never the plain text', () => {
    const a = box.encrypt('same-secret');
    const b = box.encrypt('same-secret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('same-secret');
    const [version, iv, tag, body] = a.split(':');
    expect(version).toBe('v1');
    expect(Buffer.from(iv!, 'base64')).toHaveLength(12);
    expect(Buffer.from(tag!, 'base64')).toHaveLength(16);
    expect(Buffer.from(body!, 'base64')).toHaveLength('same-secret'.length);
  });

  it('detects tampering with the ciphertext, the tag or the IV', () => {
    const sealed = box.encrypt('braze-key');
    for (const field of [1, 2, 3] as const) {
      expect(() => box.decrypt(flip(sealed, field))).toThrow(SecretDecryptError);
    }
  });

  it('rejects malformed or unknown-version strings', () => {
    const sealed = box.encrypt('braze-key');
    expect(() => box.decrypt(sealed.replace(/^v1/, 'v2'))).toThrow(/v1 format/);
    expect(() => box.decrypt('not encrypted')).toThrow(SecretDecryptError);
    const [v, iv, , body] = sealed.split(':');
    // A truncated tag must not be accepted as a shorter (weaker) tag.
    const shortTag = Buffer.from(sealed.split(':')[2]!, 'base64').subarray(0, 4).toString('base64');
    expect(() => box.decrypt([v, iv, shortTag, body].join(':'))).toThrow(SecretDecryptError);
  });

  it('fails clearly with the wrong key', () => {
    const sealed = box.encrypt('braze-key');
    const other = createSecretBox(randomBytes(32));
    expect(() => other.decrypt(sealed)).toThrow(SecretDecryptError);
    expect(() => other.decrypt(sealed)).toThrow(/COHORT_SYNC_SECRET_KEY/);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => createSecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });

  it('is not affected by later changes to the caller’s key buffer', () => {
    const key = randomBytes(32);
    const own = createSecretBox(key);
    const sealed = own.encrypt('x-secret');
    key.fill(0);
    expect(own.decrypt(sealed)).toBe('x-secret');
  });
});

describe('hint', () => {
  it('shows an ellipsis and the last 4 characters', () => {
    expect(hint('abcd-efgh-1234')).toBe('…1234');
  });
  it('shows nothing of very short secrets', () => {
    expect(hint('abc123')).toBe('…');
  });
});

describe('loadOrCreateSecretKey', () => {
  it('creates <dataDir>/secret-key (and the dir) with mode 0600, then reuses it', () => {
    const dataDir = join(dir, 'nested', 'data');
    const first = loadOrCreateSecretKey(dataDir);
    const file = join(dataDir, 'secret-key');
    expect(first).toHaveLength(32);
    expect(modeOf(file)).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').equals(first)).toBe(true);

    const second = loadOrCreateSecretKey(dataDir);
    expect(second.equals(first)).toBe(true);
    // No temporary files are left behind.
    expect(readdirSync(dataDir)).toEqual(['secret-key']);
  });

  it('uses the configured key and writes nothing', () => {
    const key = randomBytes(32);
    expect(loadOrCreateSecretKey(dir, key.toString('base64')).equals(key)).toBe(true);
    expect(existsSync(join(dir, 'secret-key'))).toBe(false);
  });

  it('rejects a configured key of the wrong size', () => {
    expect(() => loadOrCreateSecretKey(dir, randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('refuses a damaged key file instead of replacing it', () => {
    const file = join(dir, 'secret-key');
    writeFileSync(file, 'not-a-key\n');
    expect(() => loadOrCreateSecretKey(dir)).toThrow(/32 bytes/);
    expect(readFileSync(file, 'utf8')).toBe('not-a-key\n');
  });
});

describe('readOrCreateSecretFile', () => {
  it('keeps the value of a process that created the file first', () => {
    const file = join(dir, 'token');
    const result = readOrCreateSecretFile(file, () => {
      writeFileSync(file, 'winner\n'); // another process wins the race while we generate
      return 'loser';
    });
    expect(result).toEqual({ value: 'winner', created: false });
    expect(readFileSync(file, 'utf8')).toBe('winner\n');
  });
});

describe('resolveAdminToken', () => {
  it('uses COHORT_SYNC_ADMIN_TOKEN when set, writing nothing', () => {
    expect(resolveAdminToken({ configured: 'configured-admin-token', dataDir: dir })).toEqual({
      token: 'configured-admin-token',
      generated: false,
    });
    expect(existsSync(join(dir, 'admin-token'))).toBe(false);
  });

  it('generates a token once (mode 0600), then reuses it', () => {
    const dataDir = join(dir, 'data');
    const first = resolveAdminToken({ configured: undefined, dataDir });
    expect(first.generated).toBe(true);
    expect(first.token).toMatch(/^cs_admin_[A-Za-z0-9_-]{43}$/);
    const file = join(dataDir, 'admin-token');
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.token);

    const second = resolveAdminToken({ dataDir });
    expect(second).toEqual({ token: first.token, generated: false });
  });
});

describe('tokens', () => {
  it('hashToken is SHA-256 hex', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('generateToken prefixes 32 random bytes in base64url', () => {
    const a = generateToken('cs_proj');
    expect(a).toMatch(/^cs_proj_[A-Za-z0-9_-]{43}$/);
    expect(generateToken('cs_proj')).not.toBe(a);
    expect(generateToken('cs_ingest_')).toMatch(/^cs_ingest_[A-Za-z0-9_-]{43}$/);
  });

  it('constantTimeEqual compares exactly, whatever the lengths', () => {
    expect(constantTimeEqual('cs_admin_x', 'cs_admin_x')).toBe(true);
    expect(constantTimeEqual('cs_admin_x', 'cs_admin_y')).toBe(false);
    expect(constantTimeEqual('cs_admin_x', 'cs_admin_xx')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});
