// `cohort-sync sandbox`: the sandbox as a standalone process, up until SIGINT or SIGTERM.
import { isLoopbackHost, keyHint } from './admin-auth.ts';
import { DEFAULT_PARTNER_KEY, type RunningSandbox, startSandbox } from './start.ts';

/** The port `cohort-sync sandbox` listens on when none is given (api.md). */
export const DEFAULT_CLI_PORT = 4010;

export interface SandboxCliArgs {
  port?: number;
  host?: string;
  partnerSlug?: string;
  partnerKey?: string;
  /** --admin-token, else SANDBOX_ADMIN_TOKEN (see admin-auth.ts). */
  adminToken?: string;
  /** --data-dir: keep state in `<dir>/sandbox-state.json`, and a generated admin token in `<dir>`. */
  dataDir?: string;
}

export interface SandboxCliIo {
  /** Where the start-up line goes; default stdout. */
  log?: (line: string) => void;
  /** Stops the sandbox when aborted (tests use it instead of sending signals). */
  signal?: AbortSignal;
  /** Called once listening, e.g. to learn the URL of a random port. */
  onStarted?: (sandbox: RunningSandbox) => void;
}

/** Starts the sandbox, prints one line with its URL, and resolves once it has shut down after a signal. */
export async function runSandboxCli(argv: SandboxCliArgs, io: SandboxCliIo = {}): Promise<void> {
  const log = io.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const adminToken = argv.adminToken ?? process.env.SANDBOX_ADMIN_TOKEN;
  const host = argv.host ?? '127.0.0.1';
  // A token generated in memory could never be read by anyone, as it is never printed.
  if (!isLoopbackHost(host) && !adminToken && argv.dataDir === undefined)
    throw new Error(
      `the sandbox listens beyond loopback (--host ${host}), so its admin API needs a token: ` +
        'give --admin-token (or SANDBOX_ADMIN_TOKEN), or --data-dir to have one generated there',
    );
  const sandbox = await startSandbox({
    port: argv.port ?? DEFAULT_CLI_PORT,
    host,
    ...(argv.partnerSlug !== undefined && { partnerSlug: argv.partnerSlug }),
    ...(argv.partnerKey !== undefined && { partnerKeys: [argv.partnerKey] }),
    ...(adminToken && { adminToken }),
    ...(argv.dataDir !== undefined && { dataDir: argv.dataDir }),
  });
  // The handlers go in before the line a supervisor waits for: a signal's default action would kill at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  // The default partner key is public (docs/sandbox.md); one of the operator's own is shown as a hint.
  const partnerKey = argv.partnerKey === undefined ? DEFAULT_PARTNER_KEY : keyHint(argv.partnerKey);
  log(
    `Braze sandbox listening on ${sandbox.url} (partner slug "${sandbox.state.partnerSlug}", ` +
      `partner key "${partnerKey}"; admin API under ${sandbox.url}/sandbox)`,
  );
  log(describeAdminAccess(sandbox));
  io.onStarted?.(sandbox);

  await stopped;
  await sandbox.close();
}

/** One line on who may use the admin API and where state lives; never the token itself. */
export function describeAdminAccess(sandbox: RunningSandbox): string {
  const access =
    sandbox.adminToken === null
      ? 'admin API open to loopback callers'
      : sandbox.adminTokenGeneratedInto !== undefined
        ? `admin token generated into ${sandbox.adminTokenGeneratedInto} (mode 0600); send it as Authorization: Bearer`
        : 'admin API needs its token (Authorization: Bearer)';
  const state = sandbox.stateFile ? `state kept in ${sandbox.stateFile}` : 'state in memory only';
  return `Braze sandbox: ${access}; ${state}`;
}
