#!/usr/bin/env node
// The `cohort-sync` command. Operator commands live here; resource commands talk to a running server.
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { openStoreDb } from '../../adapters/store/db.ts';
import { migrate } from '../../adapters/store/migrator.ts';
import type { SandboxCliArgs } from '../../sandbox/index.ts';
import { ConfigError, type ConfigOverrides, loadConfig } from '../config.ts';
import { registerResourceCommands } from './resources/index.ts';

// The service and the sandbox are imported by the commands that run them: every other command starts faster.
const startService: typeof import('../service.ts').startService = async (...args) =>
  (await import('../service.ts')).startService(...args);
const runSandboxCli: typeof import('../../sandbox/index.ts').runSandboxCli = async (...args) =>
  (await import('../../sandbox/index.ts')).runSandboxCli(...args);

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return n;
};

function configFrom(flags: { host?: string; port?: number; dataDir?: string }) {
  const overrides: ConfigOverrides = { HOST: flags.host, PORT: flags.port, DATA_DIR: flags.dataDir };
  return loadConfig(process.env, overrides);
}

/**
 * Runs a service until SIGINT or SIGTERM, then closes it and exits. The handlers go in before the service
 * starts: a signal's default action kills at once, and a supervisor (or a test) may signal as soon as it reads
 * "listening on" — before the next line of this process ran. A signal during the start waits for the start,
 * then closes what started.
 */
async function runUntilSignal(start: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  let started: Promise<{ close(): Promise<void> }> | undefined;
  const stop = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    (started ?? Promise.reject(new Error('stopped before the service began to start')))
      .then((service) => service.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  started = start();
  try {
    await started;
  } catch (error) {
    // A failed start is reported by the caller, as any command's error is; no handler may outlive it.
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    throw error;
  }
}

/** The version in package.json, the one source of it. */
function packageVersion(): string {
  const file = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('cohort-sync')
    .version(packageVersion(), '-V, --version', 'print the version of cohort-sync')
    .description('Keeps analytics cohorts in step with Braze')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the API, the scheduler and a worker (the embedded store unless DATABASE_URL is set)')
    .option('--host <host>', 'listen address (HOST)')
    .option('--port <port>', 'listen port (PORT)', port)
    .option('--data-dir <dir>', 'embedded store and generated secrets (DATA_DIR)')
    .option('--no-worker', 'API only: dispatch runs to `cohort-sync worker` processes (PostgreSQL)')
    .action(async (flags: { host?: string; port?: number; dataDir?: string; worker: boolean }) => {
      await runUntilSignal(() => startService(configFrom(flags), { role: 'serve', runWorker: flags.worker }));
    });

  program
    .command('worker')
    .description('run workers and the scheduler only (for PostgreSQL deployments)')
    .option('--data-dir <dir>', 'DATA_DIR')
    .option('--host <host>', 'listen address of --port (HOST)')
    .option('--port <port>', 'serve /healthz, /readyz and /metrics on this port (WORKER_PORT)', port)
    .action(async (flags: { dataDir?: string; host?: string; port?: number }) => {
      await runUntilSignal(async () => {
        const service = await startService(configFrom({ dataDir: flags.dataDir, host: flags.host }), {
          role: 'worker',
          ...(flags.port !== undefined ? { workerPort: flags.port } : {}),
        });
        console.log('cohort-sync worker started');
        return service;
      });
    });

  program
    .command('migrate')
    .description('apply database migrations and exit')
    .option('--data-dir <dir>', 'DATA_DIR')
    .action(async (flags: { dataDir?: string }) => {
      const config = configFrom(flags);
      const store = openStoreDb(config.store);
      try {
        const ran = await migrate(store);
        console.log(ran.length ? `applied: ${ran.join(', ')}` : 'the store is up to date');
      } finally {
        await store.close();
      }
    });

  program
    .command('sandbox')
    .description('run the Braze sandbox alone')
    .option('--port <port>', 'listen port', port, 4010)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--partner-slug <slug>', 'path segment of the partner endpoints')
    .option('--partner-key <key>', 'partner API key the sandbox accepts')
    .option('--admin-token <token>', 'bearer token of the admin API (default SANDBOX_ADMIN_TOKEN)')
    .option('--data-dir <dir>', 'keep workspaces, users, cohorts and keys here across restarts')
    .action(async (flags: SandboxCliArgs & { port: number; host: string }) => {
      await runSandboxCli(flags);
    });

  registerResourceCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
