// `cohort-sync sandbox`: the sandbox as a standalone process, up until SIGINT or SIGTERM.
import { DEFAULT_PARTNER_KEY, type RunningSandbox, startSandbox } from './start.ts';

/** The port `cohort-sync sandbox` listens on when none is given (api.md). */
export const DEFAULT_CLI_PORT = 4010;

export interface SandboxCliArgs {
  port?: number;
  host?: string;
  partnerSlug?: string;
  partnerKey?: string;
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
  const sandbox = await startSandbox({
    port: argv.port ?? DEFAULT_CLI_PORT,
    ...(argv.host !== undefined && { host: argv.host }),
    ...(argv.partnerSlug !== undefined && { partnerSlug: argv.partnerSlug }),
    ...(argv.partnerKey !== undefined && { partnerKeys: [argv.partnerKey] }),
  });
  log(
    `Braze sandbox listening on ${sandbox.url} (partner slug "${sandbox.state.partnerSlug}", ` +
      `partner key "${argv.partnerKey ?? DEFAULT_PARTNER_KEY}"; admin API under ${sandbox.url}/sandbox)`,
  );
  io.onStarted?.(sandbox);

  await new Promise<void>((resolve) => {
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
  await sandbox.close();
}
