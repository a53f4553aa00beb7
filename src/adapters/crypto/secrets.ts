// Secrets at rest and bearer tokens: AES-256-GCM for stored Braze keys, SHA-256 for stored tokens.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12; // the GCM standard nonce size; random per message
const TAG_BYTES = 16;
// The version names the algorithm and layout, so a future key rotation or cipher change can tell old
// ciphertexts apart without a schema change.
const VERSION = 'v1';

export const SECRET_KEY_FILE = 'secret-key';

export interface SecretBox {
  /** `v1:<iv b64>:<tag b64>:<ciphertext b64>`; a fresh random IV each call, so equal inputs differ. */
  encrypt(plain: string): string;
  /** Throws SecretDecryptError when the text was altered, is malformed, or was sealed with another key. */
  decrypt(sealed: string): string;
}

export class SecretDecryptError extends Error {
  override readonly name = 'SecretDecryptError';
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) {
    throw new Error(`Secret key must be exactly ${KEY_BYTES} bytes (got ${key.length})`);
  }
  // Copy so a caller reusing or zeroing its buffer cannot change the box's key afterwards.
  const k = Buffer.from(key);
  return {
    encrypt(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, k, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, iv.toString('base64'), tag.toString('base64'), body.toString('base64')].join(':');
    },
    decrypt(sealed) {
      const parts = sealed.split(':');
      if (parts.length !== 4 || parts[0] !== VERSION) {
        throw new SecretDecryptError(`Encrypted secret is not in the ${VERSION} format`);
      }
      const iv = Buffer.from(parts[1] ?? '', 'base64');
      const tag = Buffer.from(parts[2] ?? '', 'base64');
      const body = Buffer.from(parts[3] ?? '', 'base64');
      // Fixing the tag length stops a truncated tag from weakening authentication.
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new SecretDecryptError('Encrypted secret is malformed (bad IV or tag length)');
      }
      try {
        const decipher = createDecipheriv(ALGORITHM, k, iv, { authTagLength: TAG_BYTES });
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretDecryptError(
          'Could not decrypt a stored secret: it was altered, or COHORT_SYNC_SECRET_KEY is not the key it was encrypted with',
        );
      }
    },
  };
}

/** What the API shows instead of a key: `…` and its last 4 characters (api.md: `dataImportKeyHint`). */
export function hint(secret: string): string {
  // For very short values the last 4 would be most of the secret, so show nothing of them.
  return secret.length < 8 ? '…' : `…${secret.slice(-4)}`;
}

/** Decodes a base64 (or base64url) key and insists on exactly 32 bytes. */
export function decodeSecretKey(base64: string, source: string): Buffer {
  const text = base64.trim();
  const key = Buffer.from(text, 'base64');
  // Buffer.from ignores junk characters, so check the alphabet too rather than trust the length alone.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || key.length !== KEY_BYTES) {
    throw new Error(`${source} must be base64 of exactly ${KEY_BYTES} bytes (e.g. \`openssl rand -base64 32\`)`);
  }
  return key;
}

/**
 * The key that encrypts stored Braze keys: the configured one, else `<dataDir>/secret-key`, else a new
 * random one written there (mode 0600). The file holds base64 so it can be copied into
 * COHORT_SYNC_SECRET_KEY verbatim when moving to PostgreSQL.
 */
export function loadOrCreateSecretKey(dataDir: string, configured?: string): Buffer {
  if (configured !== undefined && configured.trim() !== '') {
    return decodeSecretKey(configured, 'COHORT_SYNC_SECRET_KEY');
  }
  const file = join(dataDir, SECRET_KEY_FILE);
  const { value } = readOrCreateSecretFile(file, () => randomBytes(KEY_BYTES).toString('base64'));
  // A damaged key file is an error, never a reason to make a new key: that would orphan every stored secret.
  return decodeSecretKey(value, file);
}

/**
 * Reads a one-line secret file, or creates it with `create()` and mode 0600. Creation writes a private
 * temporary file and hard-links it into place, which fails if the file appeared meanwhile; so two
 * processes starting at once agree on one value and nobody ever reads a half-written file.
 */
export function readOrCreateSecretFile(file: string, create: () => string): { value: string; created: boolean } {
  const existing = readSecretFile(file);
  if (existing !== undefined) return { value: existing, created: false };

  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const value = create();
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${value}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkFile(tmp, file, value);
    return { value, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = readSecretFile(file);
    if (winner === undefined) throw err;
    return { value: winner, created: false };
  } finally {
    rmSync(tmp, { force: true });
  }
}

function linkFile(tmp: string, file: string, value: string): void {
  try {
    linkSync(tmp, file);
  } catch (err) {
    // Some mounted volumes have no hard links; an exclusive create still refuses to overwrite a winner.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err;
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  }
}

function readSecretFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const value = text.trim();
  if (value === '') throw new Error(`${file} is empty; restore it from a backup or remove it`);
  return value;
}

/** Tokens are stored only as this digest; a leaked database then holds no usable token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A bearer token or ingest key: `<prefix>_<32 random bytes, base64url>`, e.g. `cs_admin_…`. The prefix
 * says what a leaked string is (and lets secret scanners match it).
 */
export function generateToken(prefix: string): string {
  const sep = prefix.endsWith('_') ? '' : '_';
  return `${prefix}${sep}${randomBytes(32).toString('base64url')}`;
}

/**
 * Compares secrets without leaking, through timing, how much of a guess was right. Hashing first gives
 * equal-length inputs (timingSafeEqual demands that) and hides the real length too.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
