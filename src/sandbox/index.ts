// Public face of the Braze sandbox: a local stand-in for Braze's partner cohort API and /users/track
// (docs/sandbox.md) with its users, cohorts, custom attributes and segment filters, plus an admin API for tests and demos. See docs/sandbox.md.
// It shares no code with src/adapters/braze: a bug there must not be reproduced here and so go unnoticed.

export { SANDBOX_ADMIN_TOKEN_FILE } from './admin-auth.ts';
export { DEFAULT_CLI_PORT, describeAdminAccess, runSandboxCli, type SandboxCliArgs, type SandboxCliIo } from './cli.ts';
export { SandboxError } from './errors.ts';
export type { FaultSpec, PartnerEndpoint, QueuedFault } from './faults.ts';
export type { AliasRef } from './identifiers.ts';
export { MAX_PARTNER_BODY_BYTES } from './partner-handler.ts';
export { MAX_IDENTIFIERS_PER_REQUEST } from './partner-requests.ts';
export type { LoggedRequest, RequestStats } from './request-log.ts';
export { SNAPSHOT_FILE } from './snapshot.ts';
export {
  DEFAULT_PARTNER_KEY,
  DEFAULT_PARTNER_SLUG,
  DEFAULT_REQUESTS_PER_HOUR,
  type RunningSandbox,
  type SandboxOptions,
  startSandbox,
} from './start.ts';
export { DEFAULT_TRACK_BURST, type RestKey, SandboxState, type WorkspaceSummary } from './state.ts';
export { MAX_TRACK_OBJECTS } from './track-handler.ts';
export { MAX_ARRAY_ITEMS } from './track-objects.ts';
export type { ProfileView, SeedUser } from './user-store.ts';
export type { CohortChange, CohortIdentifiers, CohortSummary } from './workspace.ts';
