// What every resource command shares: the global options, the API client built from them, the project a
// command works on, printing (`--json` = the API's JSON exactly), and turning failures into exit codes.
import type { Command } from 'commander';
import { type ClientConfig, loadClientConfig } from '../../config.ts';
import { ApiClient, resolveToken } from './api-client.ts';
import { formatError, itemsOf, text, UsageError } from './format.ts';

/** Where a command writes and how it ends; tests pass their own to run commands in-process. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  clientConfig(): ClientConfig;
  setExitCode(code: number): void;
}

export const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  clientConfig: () => loadClientConfig(),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

export interface GlobalFlags {
  url?: string;
  token?: string;
  project?: string;
  json?: boolean;
}

export class Session {
  readonly client: ApiClient;
  readonly json: boolean;
  readonly #projectFlag: string | undefined;
  #project: string | undefined;

  constructor(
    readonly io: CliIo,
    flags: GlobalFlags,
  ) {
    const config = io.clientConfig();
    const url = flags.url?.trim() || config.url;
    this.client = new ApiClient({
      url,
      token: resolveToken({ flag: flags.token, env: config.token, url, dataDir: config.dataDir }),
    });
    this.json = flags.json === true;
    this.#projectFlag = flags.project?.trim() || config.project;
  }

  out(line: string): void {
    this.io.stdout.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  err(line: string): void {
    this.io.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** The API's JSON with --json, else the human rendering. Null bodies (204) print nothing with --json. */
  print(body: unknown, human: (body: unknown) => string): void {
    if (this.json) {
      if (body !== null && body !== undefined) this.out(JSON.stringify(body, null, 2));
    } else {
      this.out(human(body));
    }
  }

  /** A note for people (progress, hints); silent with --json so scripts get only JSON on stdout. */
  note(line: string): void {
    if (!this.json) this.out(line);
  }

  /**
   * --project, else COHORT_SYNC_PROJECT, else the only project the token can see. Two or more visible
   * projects and none named is an error rather than a guess.
   */
  async projectId(): Promise<string> {
    if (this.#projectFlag) return this.#projectFlag;
    if (this.#project) return this.#project;
    const projects = itemsOf(await this.client.get('/api/v1/projects'));
    const only = projects.length === 1 ? projects[0] : undefined;
    if (only && typeof only.id === 'string') return (this.#project = only.id);
    const listed = projects.map((p) => `${text(p.id)} (${text(p.name)})`).join(', ');
    throw new UsageError(
      projects.length === 0
        ? 'no project: create one with `cohort-sync projects create --name <name>`'
        : `this command needs a project: pass --project <id> or set COHORT_SYNC_PROJECT (one of: ${listed})`,
    );
  }

  /** `/api/v1/projects/{p}` + rest, ids encoded. */
  async projectPath(...segments: string[]): Promise<string> {
    return `/api/v1/projects/${enc(await this.projectId())}${segments.map((s) => `/${s}`).join('')}`;
  }
}

export const enc = encodeURIComponent;

/**
 * Wraps a command's action: builds the session from global options, runs, and turns any failure into
 * the message on stderr and exit code 1. `args` are the command's positional arguments.
 */
export function action<O extends object>(io: CliIo, fn: (session: Session, args: string[], opts: O) => Promise<void>) {
  return async (...params: unknown[]): Promise<void> => {
    const command = params[params.length - 1] as Command;
    try {
      const session = new Session(io, command.optsWithGlobals<GlobalFlags>());
      await fn(session, command.processedArgs as string[], command.opts<O>());
    } catch (error) {
      io.stderr.write(`${formatError(error)}\n`);
      io.setExitCode(1);
    }
  };
}

/** Adds the options every resource command understands, on the root program (so they go anywhere). */
export function addGlobalOptions(program: Command): void {
  const has = (flag: string) => program.options.some((o) => o.long === flag);
  if (!has('--url'))
    program.option('--url <url>', 'server of the resource commands (COHORT_SYNC_URL, default http://127.0.0.1:8080)');
  if (!has('--token'))
    program.option(
      '--token <token>',
      "bearer token (COHORT_SYNC_TOKEN; a local server's DATA_DIR/admin-token otherwise)",
    );
  if (!has('--project')) program.option('--project <id>', 'project of project-scoped commands (COHORT_SYNC_PROJECT)');
  if (!has('--json')) program.option('--json', "print the API's JSON instead of tables");
  // Commands created from here on (ours) list these under "Global Options" in their --help.
  program.configureHelp({ ...program.configureHelp(), showGlobalOptions: true });
}
