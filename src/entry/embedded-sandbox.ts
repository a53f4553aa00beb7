// The sandbox `cohort-sync serve` embeds when BRAZE_SANDBOX=on (docs/sandbox.md, "Embedded in the service"):
// it listens on HOST like the API, keeps its workspaces in DATA_DIR across restarts, and wants an admin
// token once HOST is beyond loopback.
import { DEFAULT_PARTNER_KEY, describeAdminAccess, type RunningSandbox, startSandbox } from '../sandbox/index.ts';
import type { Config } from './config.ts';

export async function startEmbeddedSandbox(
  config: Config,
  configuredPartnerKeys: readonly string[],
  print: (line: string) => void,
): Promise<RunningSandbox> {
  const sandbox = await startSandbox({
    host: config.http.host,
    port: config.braze.sandbox.port,
    partnerSlug: config.braze.partnerSlug,
    // The sandbox accepts the configured partner keys too, so BRAZE_SANDBOX=on works beside real keys.
    partnerKeys: [DEFAULT_PARTNER_KEY, ...configuredPartnerKeys],
    ...(config.braze.sandbox.adminToken !== undefined && { adminToken: config.braze.sandbox.adminToken }),
    dataDir: config.dataDir,
  });
  print(describeAdminAccess(sandbox));
  return sandbox;
}
