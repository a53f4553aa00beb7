// Runs the resource commands in-process: the same commander program as `cohort-sync`, with stdout, stderr,
// the exit code and the client settings (what COHORT_SYNC_* would give) captured per call.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { type CliIo, registerResourceCommands } from '../../src/entry/cli/resources/index.ts';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer | string, _e, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
    text: () => chunks.join(''),
  };
}

/** One CLI invocation in-process; env holds what COHORT_SYNC_* would. */
export async function runCli(
  args: readonly string[],
  env: { url?: string; token?: string; project?: string } = {},
): Promise<Outcome> {
  const out = sink();
  const err = sink();
  let code = 0;
  const io: CliIo = {
    stdout: out.stream,
    stderr: err.stream,
    clientConfig: () => ({
      url: env.url ?? 'http://127.0.0.1:8080',
      token: env.token,
      project: env.project,
      dataDir: join(tmpdir(), 'cs-cli-no-data'),
    }),
    setExitCode: (c) => {
      code = c;
    },
  };
  const program = new Command('cohort-sync')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.stream.write(s), writeErr: (s) => err.stream.write(s) });
  registerResourceCommands(program, io);
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = error.exitCode;
  }
  return { code, stdout: out.text(), stderr: err.text() };
}
