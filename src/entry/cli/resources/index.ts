// The resource commands (api.md "Commands"): they talk to a running server over its HTTP API.
import type { Command } from 'commander';
import { registerCohorts } from './cohorts.ts';
import { addGlobalOptions, type CliIo, processIo } from './context.ts';
import { registerProjects } from './projects.ts';
import { registerExplain, registerRuns } from './runs.ts';
import { registerSyncs } from './syncs.ts';
import { registerDestination, registerTargets } from './targets.ts';

export type { CliIo } from './context.ts';

export function registerResourceCommands(program: Command, io: CliIo = processIo): Command {
  addGlobalOptions(program);
  registerProjects(program, io);
  registerDestination(program, io);
  registerTargets(program, io);
  registerCohorts(program, io);
  registerSyncs(program, io);
  registerRuns(program, io);
  registerExplain(program, io);
  return program;
}
