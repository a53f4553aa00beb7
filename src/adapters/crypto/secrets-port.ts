// The Secrets port over AES-256-GCM (secrets.ts) and HMAC-SHA256 under the same key's derivative.
import { createHmac } from 'node:crypto';
import type { Secrets } from '../../ports/secrets.ts';
import { createSecretBox, hint } from './secrets.ts';

export function createSecrets(key: Buffer): Secrets {
  const box = createSecretBox(key);
  // A separate key for fingerprints, so a fingerprint never uses the encryption key directly.
  const macKey = createHmac('sha256', key).update('cohort-sync fingerprint v1').digest();
  return {
    encrypt: (plain) => box.encrypt(plain),
    decrypt: (sealed) => box.decrypt(sealed),
    hint,
    fingerprint: (...parts) => {
      const mac = createHmac('sha256', macKey);
      for (const part of parts) mac.update(`${part.length}:${part}`);
      return mac.digest('hex');
    },
  };
}
