// The admin bearer token (api.md, "Authentication"): configured, or generated once into DATA_DIR.
import { join } from 'node:path';
import { generateToken, readOrCreateSecretFile } from './secrets.ts';

export const ADMIN_TOKEN_FILE = 'admin-token';

export interface ResolvedAdminToken {
  readonly token: string;
  /** True only on the start that created the file: the caller prints the token then, and never again. */
  readonly generated: boolean;
}

export function resolveAdminToken({
  configured,
  dataDir,
}: {
  configured?: string | undefined;
  dataDir: string;
}): ResolvedAdminToken {
  if (configured !== undefined && configured.trim() !== '') {
    return { token: configured.trim(), generated: false };
  }
  const { value, created } = readOrCreateSecretFile(join(dataDir, ADMIN_TOKEN_FILE), () => generateToken('cs_admin'));
  return { token: value, generated: created };
}
